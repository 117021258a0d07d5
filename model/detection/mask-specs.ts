import { SpecBuilder } from '../net/builders.ts';
import type { NetSpec } from '../net/spec.ts';
import type { MaskRcnnConfig } from './mask-config.ts';
import { boxHeadSpec } from './specs.ts';

/** Box head of Mask R-CNN: the shared box head with class-agnostic axis-aligned deltas (4). */
export function maskBoxHeadSpec(c: MaskRcnnConfig): NetSpec {
  return boxHeadSpec(c, { name: 'roi_heads.bbox_pred', dim: 4 });
}

/** Mask head (detectron2 MaskRCNNConvUpsampleHead): 4 x (3x3 conv + ReLU), 2x deconv + ReLU, 1x1 conv to K masks. */
export function maskHeadSpec(c: MaskRcnnConfig): NetSpec {
  const b = new SpecBuilder([{ name: 'mask_features', channels: c.fpnChannels }]);
  let x = 'mask_features';
  for (let i = 0; i < c.mask.numConvs; i++) x = b.relu(b.conv(`roi_heads.mask_fcn${i + 1}`, x, c.mask.convDim, 3, 1, { bias: true }));
  x = b.relu(b.deconv2x('roi_heads.mask_deconv', x, c.mask.convDim));
  const logits = b.conv('roi_heads.mask_predictor', x, c.classes.length, 1, 1, { bias: true, init: { std: 0.001 } });
  return b.build([logits]);
}
