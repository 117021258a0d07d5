import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emsegBin, runEmsegAsync } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/fixtures.ts';

/**
 * `emseg analyze` end to end (the built CLI, as `npx emseg` runs it): outputs, resumption after a
 * kill -9 (the same files as an uninterrupted run), a corrupt image among good ones, empty folders
 * and unreadable models; and `emseg eval-model --json`.
 */
const samples = join(repoRoot, 'model-zoo', 'samples');
let work = '';
let inputs = '';

before(() => {
  work = mkdtempSync(join(tmpdir(), 'emseg-analyze-'));
  inputs = join(work, 'inputs');
  mkdirSync(inputs);
  // 9 images (each sample three times under other names): long enough to be killed mid-run.
  for (const f of readdirSync(samples).filter((n) => n.endsWith('.tif'))) for (const k of [0, 1, 2]) copyFileSync(join(samples, f), join(inputs, `${k}-${f}`));
});
after(() => rmSync(work, { recursive: true, force: true }));

const OUTPUTS = ['objects.csv', 'summary.csv', 'summary.json', 'predictions.coco.json', 'report.html'];
const read = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');

describe('emseg analyze', () => {
  let reference = '';

  it('writes tables, COCO, GeoJSON, overlays, histograms and a report', async () => {
    reference = join(work, 'uninterrupted');
    const r = await runEmsegAsync('analyze', inputs, '--model', 'vesicles', '--out', reference, '--format', 'csv,json,coco,geojson', '--overlay', '--report');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /analysed 9 of 9 images \(9 now, 0 from an earlier run\)/);
    assert.match(r.stderr, /9\/9 images \| \d+ objects \| [\d.]+ images\/s/);
    for (const f of OUTPUTS) assert.ok(existsSync(join(reference, f)), f);
    assert.equal(readdirSync(join(reference, 'overlays')).length, 9);
    assert.equal(readdirSync(join(reference, 'geojson')).length, 9);
    const csv = read(reference, 'objects.csv').trim().split('\n');
    const summary = JSON.parse(read(reference, 'summary.json')) as { images: number; classes: Record<string, { count: number; perUm2: number; unit: string }> };
    const total = Object.values(summary.classes).reduce((n, c) => n + c.count, 0);
    assert.equal(csv.length - 1, total, 'one CSV row per object');
    assert.equal(summary.images, 9);
    assert.equal(summary.classes.large_vesicle.unit, 'nm');
    // 512 x 512 images of 1 nm pixels: 0.262 µm² each.
    assert.ok(Math.abs(summary.classes.small_vesicle.perUm2 - summary.classes.small_vesicle.count / (9 * 0.262144)) < 1e-6);
    const coco = JSON.parse(read(reference, 'predictions.coco.json')) as { images: unknown[]; annotations: { segmentation: unknown; score: number }[] };
    assert.equal(coco.images.length, 9);
    assert.equal(coco.annotations.length, total);
    const geo = JSON.parse(readFileSync(join(reference, 'geojson', readdirSync(join(reference, 'geojson'))[0]), 'utf8')) as { type: string; features: { geometry: { type: string } }[] };
    assert.equal(geo.type, 'FeatureCollection');
    assert.ok(geo.features.length > 0 && geo.features.every((f) => f.geometry.type === 'Polygon' || f.geometry.type === 'MultiPolygon'));
    assert.match(read(reference, 'report.html'), /<svg[^>]*>.*large_vesicle: equivalentDiameter/s);
    assert.doesNotMatch(read(reference, 'report.html'), /src="http|href="http/, 'self-contained');
  });

  it('killed with SIGKILL mid-run and restarted: the same outputs as the uninterrupted run', async () => {
    assert.ok(reference, 'runs after the first test');
    const out = join(work, 'killed');
    const child = spawn(process.execPath, [emsegBin, 'analyze', inputs, '--model', 'vesicles', '--out', out, '--format', 'csv,json,coco,geojson', '--overlay', '--report'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Records sit in DIR/images/<hh>/ sub-folders.
    const records = (): number => (existsSync(join(out, 'images')) ? (readdirSync(join(out, 'images'), { recursive: true }) as string[]).filter((f) => f.endsWith('.json') && !f.endsWith('.failed.json')).length : 0);
    while (records() < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const before = records();
    assert.ok(before >= 2 && before < 9, `killed after ${before} of 9 images`);
    const r = await runEmsegAsync('analyze', inputs, '--model', 'vesicles', '--out', out, '--format', 'csv,json,coco,geojson', '--overlay', '--report');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\(${9 - before} now, ${before} from an earlier run\\)`));
    for (const f of OUTPUTS) assert.equal(read(out, f), read(reference, f), `${f} equals the uninterrupted run's`);
    assert.deepEqual(readdirSync(join(out, 'geojson')).sort(), readdirSync(join(reference, 'geojson')).sort());
    assert.equal(readdirSync(join(out, 'overlays')).length, 9);
  });

  it('SIGTERM (a scheduler\'s time limit): the images in flight finish, exit 143, the rerun completes the same outputs', async () => {
    assert.ok(reference, 'runs after the first test');
    const out = join(work, 'terminated');
    const args = ['analyze', inputs, '--model', 'vesicles', '--out', out, '--format', 'csv,json,coco,geojson', '--overlay', '--report'];
    const child = spawn(process.execPath, [emsegBin, ...args]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const records = (): number => (existsSync(join(out, 'images')) ? (readdirSync(join(out, 'images'), { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).length : 0);
    while (records() < 1 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 143, stderr);
    assert.match(stderr, /stopped by SIGTERM after \d+ of 9 images/);
    assert.ok(!existsSync(join(out, 'objects.csv')), 'no tables from a stopped run');
    const r = await runEmsegAsync(...args);
    assert.equal(r.status, 0, r.stderr);
    for (const f of OUTPUTS) assert.equal(read(out, f), read(reference, f), `${f} equals the uninterrupted run's`);
  });

  it('--workers 2 (two sessions in worker threads) writes the same outputs', async () => {
    assert.ok(reference, 'runs after the first test');
    const out = join(work, 'two-workers');
    const r = await runEmsegAsync('analyze', inputs, '--model', 'vesicles', '--out', out, '--format', 'csv,json,coco,geojson', '--report', '--workers', '2');
    assert.equal(r.status, 0, r.stderr);
    for (const f of OUTPUTS) assert.equal(read(out, f), read(reference, f), `${f} equals the one-worker run's`);
  });

  it('a corrupt image is reported and skipped; the rest is analysed; exit code 1', async () => {
    const dir = join(work, 'with-bad');
    mkdirSync(dir);
    copyFileSync(join(samples, 'tem-vesicles-0000.tif'), join(dir, 'good.tif'));
    writeFileSync(join(dir, 'broken.tif'), readFileSync(join(samples, 'tem-vesicles-0001.tif')).subarray(0, 5000));
    const out = join(work, 'with-bad-out');
    const r = await runEmsegAsync('analyze', dir, '--model', 'vesicle-large', '--out', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /1 image\(s\) failed:\n {2}\S*broken\.tif: .*broken\.tif/);
    assert.match(r.stdout, /analysed 1 of 2 images/);
    const failures = JSON.parse(read(out, 'failures.json')) as { path: string }[];
    assert.deepEqual(failures.map((f) => f.path.endsWith('broken.tif')), [true]);
    assert.ok(read(out, 'objects.csv').split('\n').length > 2);
  });

  it('empty folders, missing models and bad options: clear errors', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    let r = await runEmsegAsync('analyze', empty, '--model', 'vesicles', '--out', join(work, 'e'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /empty: the folder holds no images/);
    r = await runEmsegAsync('analyze', inputs, '--model', join(work, 'nope.onnx'), '--out', join(work, 'e'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nope\.onnx: cannot read the model \(no such file/);
    r = await runEmsegAsync('analyze', inputs, '--model', 'vesicles', '--out', join(work, 'e'), '--format', 'xlsx');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown format "xlsx"/);
    r = await runEmsegAsync('analyze', join(work, 'no-such-*.tif'), '--model', 'vesicles', '--out', join(work, 'e'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no image matches this pattern/);
  });
});

describe("the README's main command", () => {
  it('npx emseg analyze model-zoo/samples --model vesicle-large --out DIR (the bin runs by itself)', async () => {
    const out = join(work, 'readme');
    // Run the bin file directly, as npx does: it needs its shebang and the executable bit.
    const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn(emsegBin, ['analyze', join(repoRoot, 'model-zoo', 'samples'), '--model', 'vesicle-large', '--out', out]);
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', (status) => resolve({ status, stdout }));
    });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /analysed 3 of 3 images/);
    const summary = JSON.parse(read(out, 'summary.json')) as { classes: Record<string, { count: number }> };
    assert.deepEqual(Object.keys(summary.classes), ['large_vesicle']);
    assert.ok(summary.classes.large_vesicle.count > 30);
  });
});

describe('emseg analyze: records are keyed by what made them', () => {
  it('a second run with another model or options on the same folder redoes the images (the vesicle-large -> vesicles case)', async () => {
    const samplesOut = join(work, 'rekeyed');
    const first = await runEmsegAsync('analyze', samples, '--model', 'vesicle-large', '--out', samplesOut);
    assert.equal(first.status, 0, first.stderr);
    const second = await runEmsegAsync('analyze', samples, '--model', 'vesicles', '--out', samplesOut);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /analysed 3 of 3 images \(3 now, 0 from an earlier run\)/);
    assert.match(second.stderr, /3 images analysed in .* with another model or options were analysed again/);
    const fresh = join(work, 'fresh-vesicles');
    assert.equal((await runEmsegAsync('analyze', samples, '--model', 'vesicles', '--out', fresh)).status, 0);
    assert.equal(read(samplesOut, 'objects.csv'), read(fresh, 'objects.csv'), 'the same table as a fresh run with that model');
    const summary = JSON.parse(read(samplesOut, 'summary.json')) as { classes: Record<string, { count: number }> };
    assert.ok(summary.classes.small_vesicle.count > 0 && summary.classes.hole.count > 0, JSON.stringify(summary.classes));
    // Same model, another result-changing option: redone too; the same options again: reused.
    const third = await runEmsegAsync('analyze', samples, '--model', 'vesicles', '--out', samplesOut, '--score-threshold', '0.9');
    assert.match(third.stdout, /\(3 now, 0 from an earlier run\)/);
    const fourth = await runEmsegAsync('analyze', samples, '--model', 'vesicles', '--out', samplesOut, '--score-threshold', '0.9', '--threads', '1');
    assert.match(fourth.stdout, /\(0 now, 3 from an earlier run\)/, 'threads do not change results: records reused');
  });
});

describe('emseg analyze --shard and emseg merge', () => {
  it('4 shards (one missing, then run): merge lists the missing shard, then writes the same bytes as one machine', async () => {
    const single = join(work, 'single');
    const r = await runEmsegAsync('analyze', inputs, '--model', 'vesicle-large', '--out', single, '--report');
    assert.equal(r.status, 0, r.stderr);
    const sharded = join(work, 'sharded');
    for (const i of [0, 1, 3]) {
      const s = await runEmsegAsync('analyze', inputs, '--model', 'vesicle-large', '--out', sharded, '--report', '--shard', `${i}/4`);
      assert.equal(s.status, 0, s.stderr);
      assert.match(s.stderr, new RegExp(`shard ${i}/4 \\(--shard ${i}/4\\)`));
      assert.ok(!existsSync(join(sharded, 'objects.csv')), 'shards write records only');
    }
    const missing = await runEmsegAsync('merge', sharded, '--json');
    assert.equal(missing.status, 1);
    const m = JSON.parse(missing.stdout) as { images: number; missing: string[]; resubmit: string };
    assert.equal(m.images, 9);
    assert.equal(m.resubmit, '2');
    assert.equal(m.missing.length, 2, '9 images over 4 shards: shard 2 holds 2');
    assert.match(missing.stderr, /resubmit those shards: sbatch --array=2/);
    assert.ok(!existsSync(join(sharded, 'objects.csv')), 'an incomplete merge writes nothing');
    // The missing task, as a Slurm array task would run it (--shard auto from the environment).
    const env = { ...process.env, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '1', SLURM_ARRAY_TASK_COUNT: '4' };
    const auto = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [emsegBin, 'analyze', inputs, '--model', 'vesicle-large', '--out', sharded, '--report', '--shard', 'auto'], { env });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(auto.status, 0, auto.stderr);
    assert.match(auto.stderr, /shard 2\/4 \(SLURM_ARRAY_TASK_ID=2 \(min 0, step 1, count 4\)\)/);
    for (const attempt of [1, 2]) {
      const merged = await runEmsegAsync('merge', sharded);
      assert.equal(merged.status, 0, merged.stderr);
      for (const f of OUTPUTS) assert.equal(read(sharded, f), read(single, f), `${f} equals the single-machine run's (merge ${attempt})`);
    }
    // An explicit shard that contradicts the environment, and another model on the same folder: refused.
    const contradict = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [emsegBin, 'analyze', inputs, '--model', 'vesicle-large', '--out', sharded, '--shard', '0/4'], { env });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(contradict.status, 1);
    assert.match(contradict.stderr, /--shard 0\/4 contradicts the environment/);
    const other = await runEmsegAsync('analyze', inputs, '--model', 'vesicles', '--out', sharded, '--shard', '0/4');
    assert.equal(other.status, 1);
    assert.match(other.stderr, /holds a sharded analysis made with another model or options/);
  });
});

describe('emseg eval-model', () => {
  it('--json: iouType, stats and per-class AP by class name', async () => {
    const data = join(work, 'eval-data');
    const s = await runEmsegAsync('synth', 'tem-vesicles', '--count', '2', '--seed', '9', '--size', '512', '--out', data);
    assert.equal(s.status, 0, s.stderr);
    const r = await runEmsegAsync('eval-model', 'vesicles', '--data', join(data, 'annotations.json'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { iouType: string; stats: Record<string, number>; perClass: Record<string, { AP: number; AP50: number; AP75: number }> };
    assert.equal(report.iouType, 'segm');
    assert.deepEqual(Object.keys(report.perClass).sort(), ['hole', 'large_vesicle', 'small_vesicle']);
    assert.ok(report.stats.AP > 0.3 && report.stats.AP50 > report.stats.AP);
    for (const v of Object.values(report.perClass)) assert.ok(v.AP50 >= v.AP && v.AP > 0);
    // An alias is scored on its class only.
    const alias = JSON.parse((await runEmsegAsync('eval-model', 'hole', '--data', join(data, 'annotations.json'), '--json')).stdout) as { perClass: Record<string, unknown> };
    assert.deepEqual(Object.keys(alias.perClass), ['hole']);
  });
});
