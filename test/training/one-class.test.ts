import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportDetector } from '../../export/detector.ts';
import { Detector } from '../../sdk-node/detector.ts';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { ownClassLogits } from '../../training/detection/mask-rcnn.ts';
import { trainDetector } from '../../training/train.ts';

type Coco = { categories: { id: number; name: string }[]; annotations: { category_id: number }[] };

/** A synthetic TEM dataset reduced to large vesicles, with `keep` deciding which categories stay listed. */
async function vesicleDataset(dir: string, keepEmptyCategories: boolean): Promise<string> {
  await writeSynthDataset({ kind: 'tem-vesicles', count: 2, seed: 4, size: 256, out: dir, tem: { counts: { large_vesicle: [6, 6], small_vesicle: [0, 0], hole: [0, 0] } } });
  const file = join(dir, 'annotations.json');
  const coco = JSON.parse(readFileSync(file, 'utf8')) as Coco;
  const large = coco.categories.find((c) => c.name === 'large_vesicle')!;
  assert.ok(coco.annotations.length > 0 && coco.annotations.every((a) => a.category_id === large.id));
  if (!keepEmptyCategories) coco.categories = [large];
  writeFileSync(file, JSON.stringify(coco));
  return file;
}

/**
 * One class is the commonest dataset there is (particles, vesicles, mitochondria); tf.oneHot refuses
 * depth 1, which crashed Mask R-CNN's mask loss at step 1. Rotated one-class training (nanorods) is
 * covered by the rotated smoke test; here Mask R-CNN end to end: train, export, run in the SDK.
 */
describe('one-class datasets', () => {
  it('ownClassLogits: one class is the only channel; several classes pick each RoI\'s own', async () => {
    await tf.setBackend('cpu'); // the training tests below select their own backend
    const ml = tf.tensor4d(Float32Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i), [2, 2, 2, 3]);
    assert.deepEqual([...ownClassLogits(ml, Int32Array.from([2, 0]), 3).dataSync()], [2, 5, 8, 11, 12, 15, 18, 21]);
    const one = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
    assert.deepEqual([...ownClassLogits(one, Int32Array.from([0, 0]), 1).dataSync()], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('Mask R-CNN with one class trains (loss falls, AP50 rises), exports and runs in the Node SDK', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-oneclass-'));
    const ann = await vesicleDataset(join(dir, 'data'), false);
    const out = join(dir, 'run');
    const result = await trainDetector({
      task: 'instance-segmentation', train: ann, val: ann, out, seed: 0, backend: 'wasm', workers: 1, lr: 0.01, warmup: 10, logPeriod: 1,
      maxSteps: 50, evalPeriod: 25, augment: { geometric: false, strength: 0 },
    });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number; val?: { AP50: number; perClassAP: Record<string, number> } });
    const losses = lines.filter((l) => l.loss !== undefined).map((l) => l.loss!);
    assert.ok(losses.every(Number.isFinite));
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(mean(losses.slice(-8)) < 0.7 * mean(losses.slice(0, 8)), `loss falls: ${mean(losses.slice(0, 8)).toFixed(3)} -> ${mean(losses.slice(-8)).toFixed(3)}`);
    const vals = lines.filter((l) => l.val).map((l) => l.val!);
    assert.deepEqual(Object.keys(vals[0].perClassAP), ['large_vesicle']);
    assert.ok(vals[1].AP50 > vals[0].AP50 + 0.1, `segm AP50 rises: ${vals.map((v) => v.AP50).join(' -> ')}`);
    assert.ok(result.best);

    const onnx = join(dir, 'one.onnx');
    await exportDetector(join(out, 'checkpoints', 'best'), onnx);
    const det = new Detector(onnx, { log: () => {} });
    try {
      const info = await det.info();
      assert.deepEqual(info.classes, ['large_vesicle']);
      const coco = JSON.parse(readFileSync(ann, 'utf8')) as { images: { file_name: string }[] };
      const r = await det.run(join(dir, 'data', coco.images[0].file_name));
      assert.ok(r.instances.length > 0, 'the exported one-class model finds objects');
      assert.ok(r.instances.every((i) => i.label === 'large_vesicle' && i.mask && i.score > 0));
    } finally {
      await det.dispose();
    }
  });

  it('categories without instances train without error (and are reported as such)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-emptycat-'));
    const ann = await vesicleDataset(join(dir, 'data'), true);
    const out = join(dir, 'run');
    await trainDetector({
      task: 'instance-segmentation', train: ann, val: ann, out, seed: 0, backend: 'wasm', workers: 1, lr: 0.01, warmup: 2, logPeriod: 1,
      maxSteps: 4, evalPeriod: 2, augment: { geometric: true, strength: 1 },
    });
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number; val?: { perClassAP: Record<string, number> } });
    assert.ok(lines.filter((l) => l.loss !== undefined).every((l) => Number.isFinite(l.loss)));
    // 2 validation images: emseg keeps the last step as checkpoints/best, the best on validation as best-val.
    const selected = JSON.parse(readFileSync(join(out, 'checkpoints', 'best', 'manifest.json'), 'utf8')) as { step: number; metrics: { selection: string } };
    assert.deepEqual([selected.step, selected.metrics.selection], [4, 'last step']);
    assert.ok(existsSync(join(out, 'checkpoints', 'best-val', 'manifest.json')));
    const perClass = lines.find((l) => l.val)!.val!.perClassAP;
    assert.deepEqual(Object.keys(perClass).sort(), ['hole', 'large_vesicle', 'small_vesicle']);
    assert.equal(perClass.hole, -1, 'a class without ground truth has no AP (-1), not 0');
  });
});
