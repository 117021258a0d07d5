import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { type CheckpointManifest, saveCheckpoint } from '../../model/checkpoint.ts';
import { DEFAULT_ROTATED_STAGE, type RotatedRcnnConfig, defaultRotatedRcnnConfig } from '../../model/detection/config.ts';
import { type MaskRcnnConfig, defaultMaskRcnnConfig } from '../../model/detection/mask-config.ts';
import { MaskRcnn } from '../../training/detection/mask-rcnn.ts';
import { RotatedRcnn } from '../../training/detection/rotated-rcnn.ts';
import { modelSpecs } from '../../model/detection/model-specs.ts';
import { paramsOf } from '../../model/net/spec.ts';

/**
 * Small detectors made without training, for the exporter's and the SDKs' tests: seeded init, then
 * RPN, class, box and mask parameters scaled so that they propose many boxes, score them over the
 * whole range and give masks that are not flat. Written as checkpoints, like `emseg train` writes them.
 */

type Params = Map<string, tf.Variable>;

/** `scale(name, f)`: replace a parameter's values v[i] by f(v[i], i). */
function scaler(params: Params): (name: string, f: (v: number, i: number) => number) => void {
  return (name, f) => {
    const v = params.get(name);
    assert.ok(v, name);
    v.assign(tf.tensor(Float32Array.from(v.dataSync() as Float32Array, f), v.shape));
  };
}

/** The parameters in checkpoint order as one array; disposes the variables. */
function flatParams(params: Params, specs: readonly { name: string; shape: number[] }[]): Float32Array {
  const flat = new Float32Array(specs.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
  let offset = 0;
  for (const p of specs) {
    const v = params.get(p.name);
    assert.ok(v, p.name);
    flat.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  for (const v of params.values()) v.dispose();
  return flat;
}

export function smallRotatedConfig(classes: string[]): RotatedRcnnConfig {
  const c = defaultRotatedRcnnConfig(classes);
  return {
    ...c,
    backbone: { widths: [8, 16, 16, 32], blocks: [2, 2, 2, 2], norm: 'gn' },
    fpnChannels: 16,
    roi: { ...c.roi, fcDim: 32 },
    // Above the expected count, so that zero padding is exercised (the cut is tested separately).
    test: { ...c.test, detectionsPerImage: 300 },
  };
}

export function rotatedManifest(config: RotatedRcnnConfig, paramCount: number, extra: Partial<CheckpointManifest> = {}): CheckpointManifest {
  const params = modelSpecs(config).flatMap((spec) => paramsOf(spec)).map((p) => ({ name: p.name, shape: p.shape }));
  return { format: 'emseg-checkpoint-1', task: 'rotated-detection', step: 0, paramCount, config, params, ...extra };
}

/**
 * A seeded model whose outputs look like a detector's: initParams leaves the heads at std 0.01
 * (objectness, class logits) and 0.001 (box deltas), which gives flat scores and boxes equal to
 * their proposals. Scaled: objectness logits spread over a few units, class logits ~1 with the
 * background favoured (scores from ~0.05 to ~0.8), box deltas of order 1 (boxes move, turn and
 * change aspect) with (cos 2t, sin 2t) of length ~1 as a trained head gives (a short vector makes the
 * angle, half its argument, sensitive to float32 differences of the head: 1e-5 / 0.1 rad).
 */
export async function writeSmallRotatedCheckpoint(dir: string, classes: string[], classBias: number[], o: { rotatedStage?: boolean } = {}): Promise<void> {
  const config = { ...smallRotatedConfig(classes), ...(o.rotatedStage ? { rotatedStage: DEFAULT_ROTATED_STAGE } : {}) };
  const model = RotatedRcnn.create(config, 3);
  const scale = scaler(model.params);
  scale('rpn.objectness.l0.weight', (x) => 10 * x);
  scale('rpn.objectness.l0.bias', () => 1);
  scale('roi_heads.cls_score.weight', (x) => 2 * x);
  scale('roi_heads.cls_score.bias', (_, i) => classBias[i]);
  // Weights [1, 1, fcDim, 6]: output channel i % 6. Angles as (cos 2t, sin 2t) near the unit circle, as trained.
  scale('roi_heads.rbox_pred.weight', (x, i) => (i % 6 < 4 ? 10 : 3) * x);
  scale('roi_heads.rbox_pred.bias', (_, i) => [0, 0, 1.5, -1, 0.6, 0.8][i]);
  if (o.rotatedStage) {
    // The second stage likewise: scores over the range, rotated deltas of order 0.1-1 (5 per RoI).
    scale('roi_heads2.cls_score.weight', (x) => 2 * x);
    scale('roi_heads2.cls_score.bias', (_, i) => classBias[i]);
    scale('roi_heads2.rbox_pred.weight', (x) => 10 * x);
    scale('roi_heads2.rbox_pred.bias', (_, i) => [0.5, -0.5, 0.5, 0.3, 1][i]);
  }
  const flat = flatParams(model.params, modelSpecs(config).flatMap((spec) => paramsOf(spec)));
  await saveCheckpoint(dir, rotatedManifest(config, flat.length, { metrics: { best: { AP: 0.5, AP50: 0.75 } } }), flat);
}

export function smallMaskConfig(classes: string[]): MaskRcnnConfig {
  const c = defaultMaskRcnnConfig(classes);
  return {
    ...c,
    backbone: { widths: [8, 16, 16, 32], blocks: [2, 2, 2, 2], norm: 'gn' },
    fpnChannels: 16,
    roi: { ...c.roi, fcDim: 32 },
    mask: { ...c.mask, convDim: 16 },
    // Above the expected count: no detection is cut at a place where near-equal scores could swap.
    test: { ...c.test, detectionsPerImage: 1000 },
  };
}

export async function writeSmallMaskCheckpoint(dir: string, classes: string[]): Promise<void> {
  const config = smallMaskConfig(classes);
  const model = MaskRcnn.create(config, 5);
  const scale = scaler(model.params);
  scale('rpn.objectness.l0.weight', (x) => 10 * x);
  scale('rpn.objectness.l0.bias', () => 1);
  scale('roi_heads.cls_score.weight', (x) => 2 * x);
  scale('roi_heads.cls_score.bias', (_, i) => [0.5, 0, -0.5, 2.5][i]);
  scale('roi_heads.bbox_pred.weight', (x) => 10 * x);
  scale('roi_heads.bbox_pred.bias', (_, i) => [0.5, -0.5, 1, -1][i]);
  // Mask logits of a few units (the init's std 0.001 gives probabilities ~0.5 everywhere).
  scale('roi_heads.mask_predictor.weight', (x) => 3000 * x);
  const specs = model.specs().flatMap((s) => paramsOf(s));
  const flat = flatParams(model.params, specs);
  const params = specs.map((p) => ({ name: p.name, shape: p.shape }));
  await saveCheckpoint(dir, { format: 'emseg-checkpoint-1', task: 'instance-segmentation', step: 0, paramCount: flat.length, config, params }, flat);
}

