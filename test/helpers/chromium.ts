import { existsSync, readFileSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import type * as OrtWeb from 'onnxruntime-web';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Headless Chromium with WebGPU (SwiftShader, a software GPU) driven by playwright-core, for
 * checking that exported models run in onnxruntime-web's WebGPU provider. Chromium comes from
 * Debian (`apt-get install -y chromium`; .ci/run installs it); never `npx playwright install`.
 * Flags as ../shared/NOTES-environment.md: without --enable-unsafe-webgpu requestAdapter() is null;
 * playwright gives each launch a fresh profile.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

const ORT_DIST = join(import.meta.dirname, '..', '..', 'node_modules', 'onnxruntime-web', 'dist');
const TYPES: Record<string, string> = { '.css': 'text/css', '.json': 'application/json', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.onnx': 'application/octet-stream' };

export interface BrowserSession {
  page: Page;
  /** Serve bytes at a path (e.g. '/model.onnx'). */
  serve(path: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

/**
 * Start a local server (onnxruntime-web's dist under /ort/, `dirs` as URL prefix -> folder, COOP/COEP
 * for wasm threads) and a page on it.
 */
export async function openBrowser(dirs: Record<string, string> = {}): Promise<BrowserSession> {
  const served = new Map<string, Uint8Array>([['/index.html', new TextEncoder().encode('<!doctype html><title>emseg</title>')]]);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let body: Uint8Array | undefined = served.get(url.pathname);
    for (const [prefix, dir] of Object.entries({ '/ort/': ORT_DIST, ...dirs })) {
      if (body || !url.pathname.startsWith(prefix)) continue;
      const file = normalize(join(dir, decodeURIComponent(url.pathname.slice(prefix.length))));
      if (file.startsWith(dir) && existsSync(file) && statSync(file).isFile()) body = readFileSync(file);
    }
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', TYPES[extname(url.pathname)] ?? 'application/octet-stream');
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/index.html`);
    const opened = browser;
    return {
      page,
      serve: (path, bytes) => void served.set(path, bytes),
      close: async () => {
        await opened.close();
        server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}

export interface BrowserTensor {
  type: 'float32' | 'int64';
  data: number[];
  dims: number[];
}

export interface BrowserRun {
  adapter: { vendor: string; architecture: string; isFallbackAdapter: boolean } | null;
  outputs: Record<string, BrowserTensor>;
  ms: number;
}

/** Run the model served at `modelPath` in onnxruntime-web with `executionProvider` inside the page. */
export async function runInBrowser(s: BrowserSession, modelPath: string, inputs: Record<string, BrowserTensor>, executionProvider: 'webgpu' | 'wasm', graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all' = 'all'): Promise<BrowserRun> {
  return s.page.evaluate(async ({ modelPath, inputs, executionProvider, graphOptimizationLevel }) => {
    const gpu = (globalThis as unknown as { navigator: { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string }; isFallbackAdapter?: boolean } | null> } } }).navigator.gpu;
    const a = gpu ? await gpu.requestAdapter() : null;
    const adapter = a ? { vendor: a.info?.vendor ?? '', architecture: a.info?.architecture ?? '', isFallbackAdapter: a.isFallbackAdapter ?? false } : null;
    // A runtime URL, not a module specifier the test's TypeScript resolves.
    const ortUrl = '/ort/ort.all.min.mjs';
    const ort = (await import(ortUrl)) as typeof OrtWeb;
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = 1;
    const bytes = new Uint8Array(await (await fetch(modelPath)).arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: [executionProvider], graphOptimizationLevel });
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const [name, t] of Object.entries(inputs)) {
      feeds[name] = t.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), t.dims) : new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
    }
    const start = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - start;
    const outputs: Record<string, { type: 'float32' | 'int64'; data: number[]; dims: number[] }> = {};
    for (const [name, t] of Object.entries(out)) {
      outputs[name] = { type: t.type === 'int64' ? 'int64' : 'float32', data: Array.from(t.data as ArrayLike<number | bigint>, Number), dims: [...t.dims] };
    }
    await session.release();
    return { adapter, outputs, ms };
  }, { modelPath, inputs, executionProvider, graphOptimizationLevel });
}
