/**
 * Benchmark: the Node SDK on each zoo model, as `emseg analyze` runs it: images/s, ms per stage
 * (decode, preprocess, inference, postprocess) and peak RSS, for 1024 x 1024 and 4096 x 4096
 * 16-bit TIFFs (synthetic, 1 nm pixels, the models' pixel size), with 1 and 2 ONNX Runtime
 * threads and with 2 worker threads (DetectorPool, one session and thread each, decoding included).
 * Each configuration runs in its own process so that its peak RSS is its own.
 *   npm run bench -- analyze
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTiff } from '../core/formats/tiff-write.ts';
import { writeFileAtomic } from '../sdk-node/write-file.ts';
import { generateSynthImage } from '../sdk-node/synth.ts';

const MODELS = [['vesicles', 'tem-vesicles'], ['nanorod', 'haadf-nanorods']] as const;
const SIZES = [1024, 4096];

/**
 * A size x size 16-bit TIFF at 1 nm/px, as a mosaic of 512 x 512 synthetic images (the generator
 * scales objects with the image size, so one large image would hold few, huge objects).
 */
async function ensureImage(outDir: string, kind: 'tem-vesicles' | 'haadf-nanorods', size: number): Promise<string> {
  const path = join(outDir, `${kind}-${size}.tif`);
  if (!existsSync(path)) {
    const data = new Uint16Array(size * size);
    const n = size / 512;
    for (let ty = 0; ty < n; ty++) for (let tx = 0; tx < n; tx++) {
      const tile = generateSynthImage({ kind, seed: 77, size: 512 }, ty * n + tx).data;
      for (let y = 0; y < 512; y++) data.set(tile.subarray(y * 512, (y + 1) * 512), (ty * 512 + y) * size + tx * 512);
    }
    await writeFileAtomic(path, encodeTiff({ width: size, height: size, dtype: 'uint16', data, pixelSize: { x: 1, y: 1 } }));
  }
  return path;
}

/** Two workers (DetectorPool, one thread each) over `runs` copies of the image: images/s and peak RSS. */
async function childWorkers(model: string, image: string, runs: number): Promise<void> {
  const { DetectorPool } = await import('../sdk-node/detector-pool.ts');
  const pool = new DetectorPool(model, { workers: 2, threads: 1 });
  await Promise.all([pool.run(image), pool.run(image)]); // warm-up: both sessions
  const start = performance.now();
  let objects = 0;
  for await (const item of pool.runBatch(Array.from({ length: runs }, () => image))) {
    if (item.error) throw item.error;
    objects = item.result?.instances.length ?? 0;
  }
  const total = performance.now() - start;
  await pool.dispose();
  console.log(JSON.stringify({ imagesPerSecond: +(runs / (total / 1000)).toFixed(3), objects, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

/** One configuration (child process): JSON on stdout. */
async function child(model: string, image: string, threads: number, runs: number): Promise<void> {
  const { Detector } = await import('../sdk-node/detector.ts');
  const { readImage } = await import('../sdk-node/read-image.ts');
  const det = new Detector(model, { threads, log: () => {} });
  await det.info();
  await det.runDecoded(await readImage(image)); // warm-up: session and first-run allocations
  const stages = { decode: 0, preprocess: 0, inference: 0, postprocess: 0 };
  let objects = 0;
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const im = await readImage(image);
    stages.decode += performance.now() - t;
    const { result: r, timing } = await det.runDecodedTimed(im);
    objects = r.instances.length;
    for (const k of ['preprocess', 'inference', 'postprocess'] as const) stages[k] += timing[k];
  }
  const total = performance.now() - start;
  await det.dispose();
  const per = Object.fromEntries(Object.entries(stages).map(([k, v]) => [`${k}Ms`, Math.round(v / runs)]));
  console.log(JSON.stringify({ imagesPerSecond: +(runs / (total / 1000)).toFixed(3), ...per, postprocessShare: +(stages.postprocess / total).toFixed(3), objects, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

export async function benchAnalyze(outDir: string): Promise<Record<string, number | string>> {
  mkdirSync(outDir, { recursive: true });
  const row: Record<string, number | string> = {};
  const self = fileURLToPath(import.meta.url);
  for (const [model, kind] of MODELS) {
    for (const size of SIZES) {
      const image = await ensureImage(outDir, kind, size);
      for (const threads of [1, 2]) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', model, image, String(threads), String(size === 1024 ? 6 : 1)], { encoding: 'utf8' });
        const r = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, number>;
        for (const [k, v] of Object.entries(r)) row[`${model}.${size}.t${threads}.${k}`] = v;
      }
      {
        const runs = size === 1024 ? 8 : 2;
        const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--workers', model, image, String(runs)], { encoding: 'utf8' });
        const r = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, number>;
        for (const [k, v] of Object.entries(r)) row[`${model}.${size}.w2.${k}`] = v;
      }
      const one = row[`${model}.${size}.t1.imagesPerSecond`] as number;
      row[`${model}.${size}.speedup2threads`] = +((row[`${model}.${size}.t2.imagesPerSecond`] as number) / one).toFixed(2);
      row[`${model}.${size}.speedup2workers`] = +((row[`${model}.${size}.w2.imagesPerSecond`] as number) / one).toFixed(2);
    }
  }
  return { bench: 'analyze', ...row };
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
if (process.argv[2] === '--workers') await childWorkers(process.argv[3], process.argv[4], Number(process.argv[5]));
