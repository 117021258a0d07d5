// The web SDK's bundle (`npm run build:web`): dist/web/emseg.js (ESM, importable from a plain page:
// core + the worker proxy), dist/web/emseg-worker.js (the worker: core, the decoders and
// onnxruntime-web's JavaScript) and onnxruntime-web's WebAssembly next to them, served from the
// package and never from a CDN. Budget (checked here): emseg.js <= 20 kB, emseg-worker.js <= 1 MB,
// the .wasm as onnxruntime-web ships it (28 MB).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { emseg: join(root, 'sdk-web/index.ts'), 'emseg-worker': join(root, 'sdk-web/worker.ts'), 'emseg-inline': join(root, 'sdk-web/inline.ts') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outdir: out,
  logLevel: 'warning',
});
// onnxruntime-web's 'all' build (1.30): its JSEP WebAssembly runs both providers and has the float16
// Cast the fp16 zoo models need (the 'webgpu' build's asyncify WebAssembly lacks it).
const ortDist = join(root, 'node_modules/onnxruntime-web/dist');
for (const f of ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs']) copyFileSync(join(ortDist, f), join(out, f));
const BUDGET = { 'emseg.js': 20_000, 'emseg-worker.js': 1_000_000, 'emseg-inline.js': 1_000_000 };
const sizes = {};
for (const [file, max] of Object.entries(BUDGET)) {
  sizes[file] = statSync(join(out, file)).size;
  if (sizes[file] > max) throw new Error(`dist/web/${file} is ${sizes[file]} bytes, over its budget of ${max}`);
}
sizes['ort-wasm-simd-threaded.jsep.wasm'] = statSync(join(out, 'ort-wasm-simd-threaded.jsep.wasm')).size;
console.log(JSON.stringify(sizes));
