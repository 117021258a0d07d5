import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { EmsegError } from '../../core/errors.ts';
import { loadCheckpoint } from '../../model/checkpoint.ts';
import { trainDetector } from '../../training/train.ts';

/**
 * CI smoke test of the whole training path: overfit rotated Faster R-CNN on 2 tiny synthetic HAADF
 * images (train = validation) and check that the loss falls and the rbox AP rises. Then resume from
 * the checkpoint for a few more steps.
 */
describe('rotated Faster R-CNN training (smoke)', () => {
  let dir = '';
  let trainedAP50 = 0;
  it('overfits 2 tiny images: loss falls, AP rises, checkpoints resume', async () => {
    dir = mkdtempSync(join(tmpdir(), 'emseg-train-'));
    await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 3, size: 256, out: join(dir, 'data'), haadf: { count: [8, 10] } });
    const ann = join(dir, 'data', 'annotations.json');
    const out = join(dir, 'run');
    const common = {
      task: 'rotated-detection' as const,
      train: ann, val: ann, out, seed: 0, backend: 'wasm' as const, workers: 1 as const, lr: 0.01, warmup: 10, logPeriod: 1,
      augment: { geometric: true, strength: 0 }, config: { anchorRatios: [0.25, 0.5, 1, 2, 4] },
    };
    await trainDetector({ ...common, maxSteps: 2, evalPeriod: 2 });
    const first = (await loadCheckpoint(join(out, 'checkpoints', 'latest'))).manifest.metrics?.last as { AP50: number };
    const result = await trainDetector({ ...common, maxSteps: 70, evalPeriod: 70 });
    assert.equal(result.step, 70);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number; val?: { AP50: number } });
    const losses = lines.filter((l) => l.loss !== undefined);
    assert.ok(losses.some((l) => l.step === 3), 'the second run resumed at step 2');
    const early = losses.slice(0, 8).reduce((s, l) => s + l.loss!, 0) / 8;
    const late = losses.slice(-8).reduce((s, l) => s + l.loss!, 0) / 8;
    assert.ok(late < 0.8 * early, `loss falls: first steps ${early.toFixed(3)}, last steps ${late.toFixed(3)}`);
    const last = lines.filter((l) => l.val).at(-1)!.val!;
    assert.ok(last.AP50 > first.AP50 + 0.1, `AP50 rises: ${first.AP50} -> ${last.AP50}`);
    trainedAP50 = last.AP50;
  });

  it('--init-from: a model with the rotated second stage starts from the trained one and trains both stages', async () => {
    assert.ok(dir, 'needs the first test\'s run');
    const ann = join(dir, 'data', 'annotations.json');
    const out = join(dir, 'stage2');
    const messages: string[] = [];
    const common = {
      task: 'rotated-detection' as const,
      train: ann, val: ann, out, seed: 0, backend: 'wasm' as const, workers: 1 as const, lr: 0.005, warmup: 1, logPeriod: 1, maxSteps: 12, evalPeriod: 12,
      augment: { geometric: false, strength: 0 }, config: { anchorRatios: [0.25, 0.5, 1, 2, 4], rotatedStage: { batchPerImage: 64 } },
      progress: (line: string) => messages.push(line),
    };
    await trainDetector({ ...common, initFrom: join(dir, 'run', 'checkpoints', 'latest') });
    assert.ok(messages.some((m) => /initialised 90 of 98 tensors/.test(m)), messages.join('\n'));
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { config: { rotatedStage: Record<string, unknown> } };
    assert.equal(saved.config.rotatedStage.batchPerImage, 64);
    assert.equal(saved.config.rotatedStage.poolSize, 7, 'defaults fill what the config leaves out');
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rroi_cls?: number; rroi_loc?: number; val?: { AP50: number } });
    const steps = lines.filter((l) => l.rroi_cls !== undefined);
    assert.equal(steps.length, 12, 'every step reports the second stage\'s losses');
    // The same images every step (no augmentation): the fresh head's class loss ends below where it
    // started (the first steps may overshoot while the head settles).
    const cls = steps.map((l) => l.rroi_cls ?? 0);
    const start = (cls[0] + cls[1]) / 2, end = cls.slice(-4).reduce((a, b) => a + b, 0) / 4;
    assert.ok(end < start, `second-stage class loss falls: ${cls.map((v) => v.toFixed(3)).join(' ')}`);
    // Starting from the trained first stage: far above a fresh model after 12 steps (AP50 ~0).
    const val = lines.filter((l) => l.val).at(-1)!.val!;
    assert.ok(val.AP50 > 0.5 * trainedAP50, `AP50 ${val.AP50} after 12 steps from a model at ${trainedAP50}`);
    await assert.rejects(trainDetector({ ...common, out: join(dir, 'bad'), initFrom: join(dir, 'nowhere') }), (e: unknown) => e instanceof EmsegError && /nowhere/.test(e.message));
  });
});
