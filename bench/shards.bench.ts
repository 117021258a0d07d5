/**
 * Benchmark: `emseg analyze` split into 1, 2 and 4 shards run at once on this machine (the same two
 * cores in total: 2 threads per process for 1 shard, 1 thread for 2 and 4 shards), images/s over 24
 * synthetic 1024² vesicle images; and `emseg merge` of 10 000 records (one real record copied under
 * 10 000 input names), seconds. Processes are the built CLI, as a scheduler starts them.
 *   npm run bench -- shards
 */
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTiff } from '../core/formats/tiff-write.ts';
import { type AnalysisManifest, writeManifest } from '../sdk-node/analyze/manifest.ts';
import { type ImageRecord, fileIdentity, recordFile } from '../sdk-node/analyze/run-analysis.ts';
import { generateSynthImage } from '../sdk-node/synth.ts';

const cli = fileURLToPath(new URL('../dist/cli/emseg.js', import.meta.url));

function run(args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? res(0) : rej(new Error(`emseg ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

export async function benchShards(outDir: string): Promise<Record<string, number | string>> {
  const dir = join(outDir, 'shards');
  rmSync(dir, { recursive: true, force: true });
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const N = 24;
  for (let i = 0; i < N; i++) {
    const data = new Uint16Array(1024 * 1024);
    for (let t = 0; t < 4; t++) {
      const tile = generateSynthImage({ kind: 'tem-vesicles', seed: 91, size: 512 }, 4 * i + t).data;
      const ox = (t % 2) * 512, oy = Math.floor(t / 2) * 512;
      for (let y = 0; y < 512; y++) data.set(tile.subarray(y * 512, (y + 1) * 512), (oy + y) * 1024 + ox);
    }
    writeFileSync(join(images, `v${String(i).padStart(2, '0')}.tif`), encodeTiff({ width: 1024, height: 1024, dtype: 'uint16', data, pixelSize: { x: 1, y: 1 } }));
  }
  const row: Record<string, number | string> = { bench: 'shards', images: N, size: 1024, model: 'vesicles' };
  for (const shards of [1, 2, 4]) {
    const out = join(dir, `out-${shards}`);
    const threads = String(Math.max(1, 2 / shards));
    const t0 = performance.now();
    await Promise.all(Array.from({ length: shards }, (_, i) => run(['analyze', images, '--model', 'vesicles', '--out', out, '--shard', `${i}/${shards}`, '--threads', threads])));
    row[`imagesPerS_${shards}shard`] = +(N / ((performance.now() - t0) / 1000)).toFixed(3);
  }
  // Merge of 10 000 records: 10 000 inputs (hard links to one image: no disk use), each with a copy
  // of that image's real record.
  const big = join(dir, 'merge-10k');
  const src = join(dir, 'out-1');
  const record = JSON.parse(readFileSync(recordFile(src, resolve(images, 'v00.tif')), 'utf8')) as ImageRecord;
  const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')) as AnalysisManifest;
  const fake = join(dir, 'fake-inputs');
  mkdirSync(fake, { recursive: true });
  const inputs: string[] = [];
  for (let i = 0; i < 10000; i++) {
    const p = join(fake, `img${i}.tif`);
    linkSync(join(images, 'v00.tif'), p);
    inputs.push(p);
    const file = recordFile(big, p);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...record, source: fileIdentity(p) }));
  }
  await writeManifest(big, { ...manifest, inputs, shards: 4, cwd: process.cwd() });
  const t0 = performance.now();
  await run(['merge', big]);
  row.merge10kRecordsS = +((performance.now() - t0) / 1000).toFixed(2);
  return row;
}
