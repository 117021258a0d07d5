import * as ort from 'onnxruntime-web/all';
import { EmsegError, invalidArgument } from '../core/errors.ts';
import { decodeImage } from '../core/formats/decode-image.ts';
import type { EmImage } from '../core/formats/types.ts';
import { type ModelInfo, parseModelInfo } from '../core/inference/model-contract.ts';
import { bytesSource, readOnnxMetadata } from '../core/inference/onnx-metadata.ts';
import { type PipelineOptions, type StageTiming, detectImage } from '../core/inference/pipeline.ts';
import { sessionTileRunner } from '../core/inference/run-tile.ts';
import type { ImageResult } from '../core/inference/types.ts';
import { looksLikeZooName, parseZooTable, zooEntry } from '../core/inference/zoo.ts';
import { browserDecoders } from './decoders.ts';
import { SELFTEST_MODEL_BASE64 } from './webgpu-selftest-model.ts';

/**
 * The web SDK's engine: an exported emseg model in onnxruntime-web, in whatever context creates it
 * (the SDK's `Detector` runs it in a Web Worker). Everything between the image and the model is
 * core/inference/pipeline.ts, the Node SDK's code: only the session and the image bytes differ.
 * WebGPU, when asked for, is used when an adapter exists and a start-up self-test agrees with WASM;
 * else WASM with a notice (WebGPU can give silently wrong results: see `executionProviders`).
 */
export type WebExecutionProvider = 'webgpu' | 'wasm';
export type ModelSource = string | ArrayBuffer | Uint8Array;
export type WebImageInput = Blob | ArrayBuffer | Uint8Array | EmImage;

/** Per-image settings of one run. */
export interface RunOverrides {
  /** nm per pixel instead of the file's calibration (null: uncalibrated). */
  pixelSize?: { x: number; y: number } | null;
}

export interface WebDetectorOptions extends PipelineOptions {
  /**
   * In order of preference (default ['wasm']). WebGPU is opt-in (['webgpu', 'wasm']): measured here,
   * onnxruntime-web 1.30 (and 1.31.1) on SwiftShader gives the first run of a session WASM's objects
   * and later runs wrong ones (52 objects where WASM and the Node SDK find 34; on the third image an
   * out-of-bounds Gather inside the NMS Loop), with NHWC or NCHW layout and with or without memory
   * patterns (graph optimisation off: no objects at all). A start-up self-test cannot see it; WASM
   * is the reference.
   */
  executionProviders?: WebExecutionProvider[];
  /** Where model-zoo/ is served (default: `model-zoo/` next to the SDK's script). */
  zooBase?: string;
  /** Where onnxruntime-web's .wasm/.mjs files are served (default: next to the SDK's script, never a CDN). */
  wasmPaths?: string;
  /** WASM threads (default: 2 when the page is cross-origin isolated, else 1). */
  threads?: number;
  /** Where notices go (default: console.info). */
  log?: (line: string) => void;
  /** Further onnxruntime-web session options (e.g. `{ preferredLayout: 'NCHW' }` for WebGPU); emseg's win where both set one. */
  sessionOptions?: Record<string, unknown>;
}

const base64Bytes = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new EmsegError('EMSEG_FILE_READ', `${url}: cannot fetch the ${what} (${(e as Error).message})`, { file: url, cause: e });
  }
  if (!res.ok) throw new EmsegError('EMSEG_FILE_READ', `${url}: cannot fetch the ${what} (HTTP ${res.status})`, { file: url });
  return new Uint8Array(await res.arrayBuffer());
}

/** Agreement of the tiny model's output on WebGPU with WASM's (relative to the output's range). */
const SELFTEST_TOLERANCE = 1e-3;

async function webgpuAgreesWithWasm(log: (line: string) => void): Promise<boolean> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu || !(await gpu.requestAdapter().catch(() => null))) {
    log('emseg: no WebGPU adapter; running on WASM');
    return false;
  }
  const model = base64Bytes(SELFTEST_MODEL_BASE64);
  const x = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
  const run = async (ep: WebExecutionProvider): Promise<Float32Array> => {
    const s = await ort.InferenceSession.create(model, { executionProviders: [ep] });
    try {
      const out = await s.run({ x: new ort.Tensor('float32', x, [1, 1, 32, 32]) });
      return Float32Array.from(out.y.getData ? ((await out.y.getData()) as Float32Array) : (out.y.data as Float32Array));
    } finally {
      await s.release();
    }
  };
  try {
    const [a, b] = [await run('webgpu'), await run('wasm')];
    const range = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const err = a.length === b.length ? a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) : Infinity;
    if (err <= SELFTEST_TOLERANCE * range) return true;
    log(`emseg: WebGPU failed the start-up self-test (max difference from WASM ${err.toExponential(2)}); running on WASM`);
  } catch (e) {
    log(`emseg: WebGPU failed the start-up self-test (${(e as Error).message.split('\n')[0]}); running on WASM`);
  }
  return false;
}

let entryBase: string | null = null;

/**
 * The folder of the bundle's entry file (emseg-worker.js, emseg-inline.js), where onnxruntime-web's
 * WebAssembly and the default zoo are. Set by the entry: this code sits in a shared chunk
 * (dist/web/chunks/), whose own import.meta.url is one folder down.
 */
export function setBundleBase(url: string): void {
  entryBase = url;
}

const bundleBase = (): string => entryBase ?? new URL('./', import.meta.url).href;

export class InlineDetector {
  private readonly options: WebDetectorOptions;
  private readonly log: (line: string) => void;
  private model: Promise<{ bytes: Uint8Array; name: string; classes?: string[] }> | null = null;
  private metadata: Promise<ModelInfo> | null = null;
  private session: Promise<{ session: ort.InferenceSession; provider: WebExecutionProvider }> | null = null;

  constructor(
    private readonly source: ModelSource,
    options: WebDetectorOptions = {},
  ) {
    this.options = options;
    this.log = options.log ?? ((line) => console.info(line));
    if (options.scoreThreshold !== undefined && !(options.scoreThreshold >= 0 && options.scoreThreshold <= 1)) throw invalidArgument('scoreThreshold', 'a number in [0, 1]', options.scoreThreshold);
    ort.env.wasm.wasmPaths = options.wasmPaths ?? bundleBase();
    ort.env.wasm.numThreads = options.threads ?? ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? 2 : 1);
  }

  private load(): Promise<{ bytes: Uint8Array; name: string; classes?: string[] }> {
    this.model ??= (async () => {
      const s = this.source;
      const asked = this.options.classes ? [...this.options.classes] : undefined;
      if (s instanceof Uint8Array) return { bytes: s, name: 'model.onnx', classes: asked };
      if (s instanceof ArrayBuffer) return { bytes: new Uint8Array(s), name: 'model.onnx', classes: asked };
      if (looksLikeZooName(s)) {
        const zoo = new URL(this.options.zooBase ?? './model-zoo/', bundleBase()).href;
        const table = parseZooTable(new TextDecoder().decode(await fetchBytes(new URL('zoo.json', zoo).href, 'zoo table')), new URL('zoo.json', zoo).href);
        const entry = zooEntry(table, s);
        const url = new URL(entry.file, zoo).href;
        return { bytes: await fetchBytes(url, 'model'), name: url, classes: asked ?? entry.classes };
      }
      return { bytes: await fetchBytes(s, 'model'), name: s, classes: asked };
    })();
    return this.model;
  }

  /** Task, classes, pixel size... from the model's metadata (no session). */
  info(): Promise<ModelInfo> {
    this.metadata ??= (async () => {
      const m = await this.load();
      const info = parseModelInfo(await readOnnxMetadata(bytesSource(m.bytes), m.name), m.name);
      for (const c of m.classes ?? []) {
        if (!info.classes.includes(c)) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${m.name}: the model has no class "${c}" (it has ${info.classes.join(', ')})`, { file: m.name });
      }
      return info;
    })();
    return this.metadata;
  }

  /** The classes this detector reports: a zoo alias's or options.classes, else all the model has. */
  async reportedClasses(): Promise<string[]> {
    return (await this.load()).classes ?? (await this.info()).classes;
  }

  /** The execution provider the session runs on; creates the session (and runs the WebGPU self-test). */
  async provider(): Promise<WebExecutionProvider> {
    return (await this.open()).provider;
  }

  private open(): Promise<{ session: ort.InferenceSession; provider: WebExecutionProvider }> {
    this.session ??= (async () => {
      await this.info();
      const { bytes, name } = await this.load();
      const wanted = this.options.executionProviders ?? ['wasm'];
      let provider: WebExecutionProvider = wanted.includes('webgpu') && wanted[0] === 'webgpu' && (await webgpuAgreesWithWasm(this.log)) ? 'webgpu' : 'wasm';
      if (!wanted.includes(provider)) provider = wanted[0];
      try {
        return { session: await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', ...this.options.sessionOptions, executionProviders: [provider] }), provider };
      } catch (e) {
        throw new EmsegError('EMSEG_MODEL_LOAD', `${name}: ONNX Runtime (web, ${provider}) cannot load the model: ${(e as Error).message.split('\n')[0]}`, { file: name, cause: e });
      }
    })();
    return this.session;
  }

  /** Decode an input to an image (every format emseg reads in the browser). */
  async decode(input: WebImageInput, name = input instanceof File ? input.name : 'image'): Promise<EmImage> {
    if (input instanceof Blob) return decodeImage(new Uint8Array(await input.arrayBuffer()), name, 0, browserDecoders);
    if (input instanceof ArrayBuffer) return decodeImage(new Uint8Array(input), name, 0, browserDecoders);
    if (input instanceof Uint8Array) return decodeImage(input, name, 0, browserDecoders);
    if (typeof input === 'object' && input !== null && 'data' in input && 'width' in input) return input;
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: expected a File, Blob, ArrayBuffer, Uint8Array or a decoded image`, { file: name });
  }

  /** Detect and measure every object of one image: the Node SDK's `ImageResult`. */
  async run(input: WebImageInput, name?: string, overrides?: RunOverrides): Promise<ImageResult> {
    return (await this.runTimed(input, name, overrides)).result;
  }

  async runTimed(input: WebImageInput, name = input instanceof File ? input.name : 'image', overrides: RunOverrides = {}): Promise<{ result: ImageResult; timing: StageTiming }> {
    const decoded = await this.decode(input, name);
    // A pixel size the user typed replaces the file's calibration (measurements and rescaling follow it).
    const image = overrides.pixelSize === undefined ? decoded : { ...decoded, pixelSize: overrides.pixelSize };
    const [{ session }, info, m] = await Promise.all([this.open(), this.info(), this.load()]);
    const runTile = sessionTileRunner(session, (type, data, dims) => new ort.Tensor(type, data, dims), info, { image: name, model: m.name, runtime: 'ONNX Runtime (web)' });
    const o = this.options;
    return detectImage(image, info, runTile, { scoreThreshold: o.scoreThreshold, tile: o.tile, rescale: o.rescale, classes: m.classes }, name);
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await (await s.catch(() => null))?.session.release();
  }
}
