import { SpecBuilder, fpn, resnet, rpnHead } from '../net/builders.ts';
import type { NetSpec } from '../net/spec.ts';
import type { RotatedStageConfig } from './config.ts';
import type { TwoStageConfig } from './config.ts';

export const FPN_LEVELS = ['fpn.output2', 'fpn.output3', 'fpn.output4', 'fpn.output5'] as const;
export const FPN_STRIDES = [4, 8, 16, 32] as const;

/** Image -> pyramid features and RPN outputs (objectness [1,H,W,A], deltas [1,H,W,4A] per level). */
export function backboneSpec(c: TwoStageConfig): NetSpec {
  const b = new SpecBuilder([{ name: 'image', channels: 1 }]);
  const stages = resnet(b, 'image', c.backbone);
  const p = fpn(b, stages, c.fpnChannels);
  const heads = rpnHead(b, p, c.anchorRatios.length, 4);
  return b.build([...p, ...heads.flat()]);
}

/** Where a box head reads and what it names its layers: the first stage's by default. */
export interface BoxHeadLayout {
  /** Input value name and the pooled size P of its [R, P, P, C] features. */
  input: string;
  poolSize: number;
  /** Layer-name prefix (`roi_heads` or, for the rotated second stage, `roi_heads2`). */
  prefix: string;
}

/**
 * Box head on pooled RoI features [R, P, P, C]: two fully connected layers written as a PxP valid
 * convolution and a 1x1 convolution (so the one network description covers them), then class logits
 * (K + 1, background last) and class-agnostic deltas: by default oriented (6: dx, dy, dw, dh, cos 2t,
 * sin 2t, `roi_heads.rbox_pred`); Mask R-CNN asks for axis-aligned ones (4, `roi_heads.bbox_pred`).
 */
export function boxHeadSpec(c: TwoStageConfig, deltas: { name: string; dim: number } = { name: 'roi_heads.rbox_pred', dim: 6 }, layout: BoxHeadLayout = { input: 'roi_features', poolSize: c.roi.poolSize, prefix: 'roi_heads' }): NetSpec {
  const b = new SpecBuilder([{ name: layout.input, channels: c.fpnChannels }]);
  const fc1 = b.relu(b.conv(`${layout.prefix}.fc1`, layout.input, c.roi.fcDim, layout.poolSize, 1, { bias: true, padding: 'valid' }));
  const fc2 = b.relu(b.conv(`${layout.prefix}.fc2`, fc1, c.roi.fcDim, 1, 1, { bias: true }));
  const cls = b.conv(`${layout.prefix}.cls_score`, fc2, c.classes.length + 1, 1, 1, { bias: true, init: { std: 0.01 } });
  const out = b.conv(deltas.name, fc2, deltas.dim, 1, 1, { bias: true, init: { std: 0.001 } });
  return b.build([cls, out]);
}

/**
 * Second-stage head on rotated RoI features [R, P, P, C] (`rroi_features`): the box head's layout
 * under `roi_heads2.*`, class logits (K + 1) and 5 rotated deltas (RotatedRoiCoder).
 */
export function rotatedHeadSpec(c: TwoStageConfig, stage: RotatedStageConfig): NetSpec {
  return boxHeadSpec(c, { name: 'roi_heads2.rbox_pred', dim: 5 }, { input: 'rroi_features', poolSize: stage.poolSize, prefix: 'roi_heads2' });
}
