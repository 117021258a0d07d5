import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { evaluateModel, loadTrainedModel } from '../../training/predict.ts';
import { trainDetector } from '../../training/train.ts';

/**
 * CI smoke test of Mask R-CNN training: overfit 2 tiny synthetic TEM images (train = validation):
 * the loss falls and the segm AP50 rises; the best checkpoint loads back and evaluates.
 */
describe('Mask R-CNN training (smoke)', () => {
  it('overfits 2 tiny images: loss falls, segm AP50 rises', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-mask-'));
    await writeSynthDataset({ kind: 'tem-vesicles', count: 2, seed: 4, size: 256, out: join(dir, 'data'), tem: { counts: { large_vesicle: [5, 5], small_vesicle: [10, 10], hole: [4, 4] } } });
    const ann = join(dir, 'data', 'annotations.json');
    const out = join(dir, 'run');
    const result = await trainDetector({
      task: 'instance-segmentation', train: ann, val: ann, out, seed: 0, backend: 'wasm', workers: 1, lr: 0.01, warmup: 10, logPeriod: 1,
      maxSteps: 60, evalPeriod: 30, augment: { geometric: false, strength: 0 },
    });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number; val?: { AP50: number } });
    const losses = lines.filter((l) => l.loss !== undefined).map((l) => l.loss!);
    const early = losses.slice(0, 8).reduce((a, b) => a + b, 0) / 8;
    const late = losses.slice(-8).reduce((a, b) => a + b, 0) / 8;
    assert.ok(late < 0.7 * early, `loss falls: ${early.toFixed(3)} -> ${late.toFixed(3)}`);
    const vals = lines.filter((l) => l.val).map((l) => l.val!.AP50);
    assert.ok(vals.length === 2 && vals[1] > vals[0] + 0.1, `segm AP50 rises: ${vals.join(' -> ')}`);
    assert.ok(result.best);
    const model = await loadTrainedModel(join(out, 'checkpoints', 'best'), 'wasm');
    const r = await evaluateModel(model, ann);
    assert.equal(r.iouType, 'segm');
    assert.ok(Math.abs(r.stats.AP50 - (result.best.AP50 as number)) < 1e-9, 'the saved best checkpoint reproduces its validation AP');
  });
});
