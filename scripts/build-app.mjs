// `npm run app:build`: the web app as static files in dist/app/ that work from any static host and
// offline: index.html (Content-Security-Policy: nothing is fetched from elsewhere), app.js + app.css,
// the web SDK's worker and onnxruntime-web's WebAssembly (from dist/web/), and the model zoo
// (zoo.json and the .onnx files; no samples). Budget: app.js <= 200 kB.
import { build } from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'app');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [join(root, 'scripts/build-web.mjs')], { stdio: 'inherit' });
await build({ entryPoints: { app: join(root, 'app/app.ts') }, bundle: true, splitting: true, chunkNames: 'chunks/[name]-[hash]', format: 'esm', platform: 'browser', target: 'es2022', minify: true, sourcemap: true, outdir: out, logLevel: 'warning' });
for (const f of ['index.html', 'app.css']) copyFileSync(join(root, 'app', f), join(out, f));
const web = join(root, 'dist', 'web');
for (const f of readdirSync(web)) if (f.startsWith('emseg-worker') || f.startsWith('ort-')) copyFileSync(join(web, f), join(out, f));
// The worker's lazy decoders (compressed TIFF, EMD), next to the app's own chunks.
cpSync(join(web, 'chunks'), join(out, 'chunks'), { recursive: true, filter: (src) => !src.endsWith('.map') });
cpSync(join(root, 'model-zoo'), join(out, 'model-zoo'), { recursive: true, filter: (src) => !src.includes(join('model-zoo', 'samples')) && !src.endsWith('.md') });
const appBytes = statSync(join(out, 'app.js')).size;
if (appBytes > 200_000) throw new Error(`dist/app/app.js is ${appBytes} bytes, over its budget of 200000`);
console.log(JSON.stringify({ 'app.js': appBytes, 'emseg-worker.js': statSync(join(out, 'emseg-worker.js')).size }));
