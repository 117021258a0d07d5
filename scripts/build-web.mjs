// The web SDK's bundle (`npm run build:web`): dist/web/emseg.js (ESM, importable from a plain page:
// core + the worker proxy), dist/web/emseg-worker.js (the worker: core, the decoders and
// onnxruntime-web's JavaScript) and onnxruntime-web's WebAssembly next to them, served from the
// package and never from a CDN. Decoders few users need (geotiff.js for compressed TIFF, h5wasm for
// EMD) are split into dist/web/chunks/, loaded on first use. Budget (checked here): emseg.js <= 20 kB,
// emseg-worker.js <= 1 MB (each with the chunks it imports statically), each lazy chunk <= 6 MB (h5wasm: 5.6 MB), the .wasm as onnxruntime-web ships it (28 MB).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'web');
rmSync(join(out, 'chunks'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// Two builds: the page-side proxy alone (one small file), and the two runtimes (worker and inline),
// which share onnxruntime-web and core in one chunk and the lazy decoders (one copy each).
const builds = [{ emseg: 'sdk-web/index.ts' }, { 'emseg-worker': 'sdk-web/worker.ts', 'emseg-inline': 'sdk-web/inline.ts' }];
for (const entries of builds) {
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, join(root, file)])),
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outdir: out,
    logLevel: 'warning',
  });
}
// onnxruntime-web's 'all' build (1.30): its JSEP WebAssembly runs both providers and has the float16
// Cast the fp16 zoo models need (the 'webgpu' build's asyncify WebAssembly lacks it).
const ortDist = join(root, 'node_modules/onnxruntime-web/dist');
for (const f of ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs']) copyFileSync(join(ortDist, f), join(out, f));
const BUDGET = { 'emseg.js': 20_000, 'emseg-worker.js': 1_000_000, 'emseg-inline.js': 1_000_000 };
const sizes = {};
// An entry's size is the file and every chunk it imports statically (what loads before it runs).
const loaded = (file, seen = new Set()) => {
  if (seen.has(file)) return 0;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  let size = statSync(file).size;
  for (const m of text.matchAll(/(?:^|[;}\s])import\s*(?:[^'"()]*?from\s*)?["'](\.[^"']+)["']/g)) size += loaded(join(dirname(file), m[1]), seen);
  return size;
};
for (const [file, max] of Object.entries(BUDGET)) {
  sizes[file] = loaded(join(out, file));
  if (sizes[file] > max) throw new Error(`dist/web/${file} with its static chunks is ${sizes[file]} bytes, over its budget of ${max}`);
}
for (const f of readdirSync(join(out, 'chunks')).filter((n) => n.endsWith('.js'))) {
  const size = statSync(join(out, 'chunks', f)).size;
  if (size > 6_000_000) throw new Error(`dist/web/chunks/${f} is ${size} bytes, over the chunk budget of 6000000`);
  sizes[`chunks/${f}`] = size;
}
sizes['ort-wasm-simd-threaded.jsep.wasm'] = statSync(join(out, 'ort-wasm-simd-threaded.jsep.wasm')).size;
console.log(JSON.stringify(sizes));
