import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '../../core/random.ts';
import { loadCheckpoint } from '../../model/checkpoint.ts';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { emsegBin, runEmsegAsync } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/fixtures.ts';

/**
 * kill -9 at many points of `emseg train`, `emseg tune`, `emseg export` and `emseg analyze`: after
 * each kill, every file under its final name is whole (a checkpoint loads, JSON parses, a model is
 * the finished one's bytes), and running the same command again finishes with exactly what an
 * uninterrupted run writes. Kill points are seeded: after a given progress line (or a share of the
 * uninterrupted run's time) plus a seeded delay, so they land in steps, checkpoint saves and writes.
 */
let work = '';
let ann = '';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'emseg-kill-'));
  await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 4, size: 128, out: join(work, 'data'), haadf: { count: [4, 6] } });
  ann = join(work, 'data', 'annotations.json');
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Start the CLI; SIGKILL it `delayMs` after `trigger` matches its stderr (or after `delayMs` if none). */
function runAndKill(args: string[], trigger: RegExp | null, delayMs: number): Promise<{ killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [emsegBin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let armed = false;
    const arm = (): void => {
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    if (!trigger) arm();
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!armed && trigger?.test(stderr)) arm();
    });
    child.on('exit', (_code, signal) => resolve({ killed: signal === 'SIGKILL' }));
  });
}

const CHECKPOINTS = ['latest', 'best', 'best-val'];

/** Every checkpoint (or its `.old` fallback) a later run would load loads whole. */
async function assertCheckpointsWhole(out: string, where: string): Promise<void> {
  for (const name of CHECKPOINTS) {
    const dir = join(out, 'checkpoints', name);
    if (!existsSync(join(dir, 'manifest.json')) && !existsSync(join(`${dir}.old`, 'manifest.json'))) continue;
    const ck = await loadCheckpoint(dir);
    assert.equal(ck.params.length, ck.manifest.paramCount, `${where}: ${name} holds its declared parameters`);
  }
  if (existsSync(join(out, 'config.json'))) JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
}

const metricsLines = (out: string): unknown[] =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...(JSON.parse(l) as object), ms: undefined }));

describe('kill -9 at seeded points, then the same command again', () => {
  const trainArgs = (out: string, seed = '3'): string[] => [
    'train', '--task', 'rotated-detection', '--train', ann, '--val', ann, '--out', out, '--max-steps', '6', '--eval-period', '2',
    '--log-period', '1', '--workers', '1', '--seed', seed, '--init-backbone', 'none',
  ];
  let reference = '';

  it('emseg train: checkpoints always load, and the resumed run ends bit-identical to the uninterrupted one', async () => {
    reference = join(work, 'train-ref');
    const r = await runEmsegAsync(...trainArgs(reference));
    assert.equal(r.status, 0, r.stderr);
    const ref = await loadCheckpoint(join(reference, 'checkpoints', 'latest'));
    const rand = seededRandom(20);
    let killed = 0;
    for (const k of [1, 2, 3, 4, 5]) {
      const out = join(work, `train-kill-${k}`);
      // After step k's progress line: in step k + 1, in a validation, or in a checkpoint save.
      killed += Number((await runAndKill(trainArgs(out), new RegExp(`step ${k}/6`), Math.floor(rand() * 400))).killed);
      await assertCheckpointsWhole(out, `killed after step ${k}`);
      const again = await runEmsegAsync(...trainArgs(out));
      assert.equal(again.status, 0, again.stderr);
      for (const name of CHECKPOINTS) {
        const [a, b] = await Promise.all([loadCheckpoint(join(out, 'checkpoints', name)), loadCheckpoint(join(reference, 'checkpoints', name))]);
        assert.equal(a.manifest.step, b.manifest.step, `kill ${k}: ${name} step`);
        assert.deepEqual(a.params, b.params, `kill ${k}: ${name} bit-identical`);
      }
      assert.deepEqual(metricsLines(out), metricsLines(reference), `kill ${k}: metrics.jsonl reads as one run`);
    }
    assert.ok(killed >= 3, `${killed} of 5 runs were killed before they finished`);
    assert.equal(ref.manifest.step, 6);
  });

  it('emseg train refuses to continue a run made with other options', async () => {
    const r = await runEmsegAsync(...trainArgs(reference, '4'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /EMSEG_INVALID_ARGUMENT: .*train-ref holds a run started with another seed \(3; this run: 4\)/);
    assert.equal((await loadCheckpoint(join(reference, 'checkpoints', 'latest'))).manifest.step, 6, 'the checkpoint is left alone');
  });

  it('emseg tune: a killed search resumes to the same trials and best settings', async () => {
    const tuneArgs = (out: string): string[] => ['tune', '--task', 'rotated-detection', '--train', ann, '--val', ann, '--out', out, '--trials', '2', '--max-steps', '2', '--workers', '1', '--seed', '5'];
    const ref = join(work, 'tune-ref');
    const r = await runEmsegAsync(...tuneArgs(ref));
    assert.equal(r.status, 0, r.stderr);
    const rand = seededRandom(21);
    for (const [k, trigger] of [/trial 1\/2/, /trial 2\/2/, /trial 2\/2.*\n.*step/s].entries()) {
      const out = join(work, `tune-kill-${k}`);
      await runAndKill(tuneArgs(out), trigger, Math.floor(rand() * 1500));
      for (const t of [0, 1]) await assertCheckpointsWhole(join(out, `trial-${t}`), `tune kill ${k}, trial ${t}`);
      for (const f of ['tune.json', 'tune-manifest.json', 'best-config.json']) if (existsSync(join(out, f))) JSON.parse(readFileSync(join(out, f), 'utf8'));
      const again = await runEmsegAsync(...tuneArgs(out));
      assert.equal(again.status, 0, again.stderr);
      // results.md without its last column (each trial's wall time).
      const table = (dir: string): string[] => readFileSync(join(dir, 'results.md'), 'utf8').trim().split('\n').map((l) => l.replace(/[^|]*\|$/, ''));
      assert.deepEqual(table(out), table(ref), `tune kill ${k}: results.md`);
      assert.equal(readFileSync(join(out, 'best-config.json'), 'utf8'), readFileSync(join(ref, 'best-config.json'), 'utf8'), `tune kill ${k}: best-config.json`);
    }
  });

  it('emseg export: the model file is absent or the finished bytes, never a partial model', async () => {
    const ckpt = join(reference, 'checkpoints', 'best');
    const refModel = join(work, 'ref.onnx');
    const t0 = performance.now();
    const r = await runEmsegAsync('export', ckpt, '-o', refModel);
    const ms = performance.now() - t0;
    assert.equal(r.status, 0, r.stderr);
    const bytes = readFileSync(refModel);
    const rand = seededRandom(22);
    for (const share of [0.3, 0.5, 0.7, 0.85, 0.95]) {
      const model = join(work, `kill-${share}.onnx`);
      await runAndKill(['export', ckpt, '-o', model], null, Math.floor(ms * share + rand() * 50));
      if (existsSync(model)) assert.ok(readFileSync(model).equals(bytes), `killed at ${share}: a model under its name is the whole model`);
      const again = await runEmsegAsync('export', ckpt, '-o', model);
      assert.equal(again.status, 0, again.stderr);
      assert.ok(readFileSync(model).equals(bytes), `killed at ${share}: the rerun writes the same bytes`);
    }
  });

  it('emseg analyze: records are whole after any kill, and the rerun gives the uninterrupted outputs', async () => {
    const inputs = join(work, 'inputs');
    mkdirSync(inputs);
    const samples = join(repoRoot, 'model-zoo', 'samples');
    for (const f of readdirSync(samples).filter((n) => n.endsWith('.tif'))) for (const k of [0, 1]) copyFileSync(join(samples, f), join(inputs, `${k}-${f}`));
    const args = (out: string): string[] => ['analyze', inputs, '--model', 'vesicles', '--out', out, '--format', 'csv,json,coco,geojson', '--overlay'];
    const ref = join(work, 'analyze-ref');
    assert.equal((await runEmsegAsync(...args(ref))).status, 0);
    const rand = seededRandom(23);
    for (let k = 0; k < 4; k++) {
      const out = join(work, `analyze-kill-${k}`);
      // From model loading to the final tables: after the k-th progress line, plus a seeded delay.
      await runAndKill(args(out), k === 0 ? null : new RegExp(`${k}/6 images`), Math.floor(rand() * (k === 0 ? 2500 : 300)));
      const records = existsSync(join(out, 'images')) ? (readdirSync(join(out, 'images'), { recursive: true }) as string[]).filter((f) => f.endsWith('.json')) : [];
      for (const f of records) JSON.parse(readFileSync(join(out, 'images', f), 'utf8'));
      const again = await runEmsegAsync(...args(out));
      assert.equal(again.status, 0, again.stderr);
      for (const f of ['objects.csv', 'summary.csv', 'summary.json', 'predictions.coco.json']) {
        assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(ref, f), 'utf8'), `analyze kill ${k}: ${f}`);
      }
    }
  });
});
