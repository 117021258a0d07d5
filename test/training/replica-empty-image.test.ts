import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { DEFAULT_ROTATED_STAGE } from '../../model/detection/config.ts';
import type { RboxDataset } from '../../training/data/dataset.ts';
import { DetectorReplica } from '../../training/detection/replica.ts';
import { smallRotatedConfig } from '../helpers/small-detectors.ts';

/**
 * An image without objects (a blank field, or one whose objects augmentation moved off the canvas)
 * leaves the rotated second stage out of the loss; tfjs then returns no gradient for its variables.
 * The replica must pass zeros for them (no crash in a worker, no stale values from another step).
 */
describe('detector replica on an image without objects', () => {
  it('returns a finite loss and zero gradients for the heads that took no part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-empty-'));
    await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 5, size: 128, out: dir, haadf: { count: [4, 5] } });
    const file = join(dir, 'annotations.json');
    const coco = JSON.parse(readFileSync(file, 'utf8')) as { images: { id: number }[]; annotations: { image_id: number }[] };
    const blank = coco.images[0].id;
    coco.annotations = coco.annotations.filter((a) => a.image_id !== blank);
    writeFileSync(file, JSON.stringify(coco));

    const config = { ...smallRotatedConfig(['nanorod']), rotatedStage: { ...DEFAULT_ROTATED_STAGE, batchPerImage: 32 } };
    const replica = await DetectorReplica.create({ config, train: file, seed: 0, backend: 'wasm', momentum: 0.9, weightDecay: 0, clipNorm: 10, augment: { geometric: false, strength: 0 } });
    const index = (replica.data as RboxDataset).samples.findIndex((s) => s.rboxes.length === 0);
    assert.ok(index >= 0 && replica.data.samples.length === 2, 'the blank image is kept as a training sample');
    await replica.preload([0, 1]);
    const stage2 = [...replica.model.params.keys()].filter((n) => n.startsWith('roi_heads2.'));
    assert.ok(stage2.length > 0);
    const slices = (g: Float32Array) => {
      const out = new Map<string, Float32Array>();
      let off = 0;
      for (const [n, v] of replica.model.params) {
        out.set(n, g.subarray(off, off + v.size));
        off += v.size;
      }
      return out;
    };
    // A step on the image with rods first: the flat gradient buffer then holds non-zero stage-2 values.
    const withRods = replica.gradients({ sample: 1 - index, seed: 1, lr: 0.01 });
    assert.ok(Number.isFinite(withRods.loss));
    const before = slices(withRods.grads);
    assert.ok(stage2.some((n) => before.get(n)!.some((v) => v !== 0)), 'stage 2 has gradients on an image with rods');

    const blankStep = replica.gradients({ sample: index, seed: 2, lr: 0.01 });
    assert.ok(Number.isFinite(blankStep.loss) && blankStep.loss > 0, `loss ${blankStep.loss}`);
    const after = slices(blankStep.grads);
    for (const n of stage2) assert.ok(after.get(n)!.every((v) => v === 0), `${n}: zero gradient on the blank image`);
    // The first stage still learns from it (background anchors and RoIs).
    assert.ok(after.get('rpn.objectness.l0.weight')!.some((v) => v !== 0), 'the RPN gets gradients');
  });
});
