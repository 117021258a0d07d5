import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { loadCheckpoint } from '../../model/checkpoint.ts';
import { type TrainOptions, trainDetector } from '../../training/train.ts';

/**
 * `emseg train` promises a run that is deterministic for a seed and backend and that continues after
 * a kill exactly as if it had not been interrupted. Run A trains 6 steps in one go; run B, with the
 * same settings in another folder, is aborted in the middle of step 5 (its last checkpoint is step
 * 3's) and started again. Both runs must log the same loss terms at every step and end with
 * bit-identical weights and momentum. Augmentation on, data-parallel workers: every source of
 * randomness and of order (data order, augmentation, gradient averaging, threads) is covered. (This
 * test found that onnxruntime's convolutions gave other bits for operands at other alignments on
 * the wasm heap; training/backend/onnxruntime-convs.ts now aligns them.)
 */
describe('training determinism and resume', () => {
  // 2 workers with 1 onnxruntime thread each (the recipes' setting) and 1 worker with 2 threads.
  for (const workers of [2, 1] as const) it(`${workers} worker(s): the same seed gives the same run, and a run killed mid-way resumes to the same weights`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-determinism-'));
    await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 4, size: 192, out: join(dir, 'data'), haadf: { count: [5, 7] } });
    const options = (out: string): TrainOptions => ({
      task: 'rotated-detection', train: join(dir, 'data', 'annotations.json'), out, seed: 11, backend: 'wasm', workers,
      lr: 0.01, warmup: 2, maxSteps: 6, evalPeriod: 3, logPeriod: 1, augment: { geometric: true, strength: 1 },
    });
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await trainDetector(options(a));
    await assert.rejects(
      trainDetector({ ...options(b), progress: (line) => { if (line.startsWith('step 5/')) throw new Error('killed'); } }),
      /killed/,
    );
    assert.equal((await loadCheckpoint(join(b, 'checkpoints', 'latest'))).manifest.step, 3, 'the interrupted run left step 3\'s checkpoint');
    await trainDetector(options(b));

    type Line = { step: number; ms?: number; loss?: number };
    const lines = (out: string): Line[] => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
    const withoutTime = ({ ms: _ms, ...rest }: Line) => rest;
    const runA = lines(a).map(withoutTime);
    const runB = lines(b).map(withoutTime);
    // B logged steps 1-5 and was killed; resumed at step 4, it dropped the lines after step 3 (they are
    // logged again), so its log reads as one run: the same lines, the same losses as A's.
    assert.deepEqual(runA.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
    assert.ok(runA.every((l) => Number.isFinite(l.loss)), 'finite losses');
    assert.deepEqual(runB, runA, 'same seed: the same losses step by step, the resumed steps too');
    const ckA = await loadCheckpoint(join(a, 'checkpoints', 'latest'));
    const ckB = await loadCheckpoint(join(b, 'checkpoints', 'latest'));
    assert.equal(ckB.manifest.step, 6);
    assert.deepEqual(ckB.params, ckA.params, 'bit-identical weights');
    assert.deepEqual(ckB.momentum, ckA.momentum, 'bit-identical momentum');
  });
});
