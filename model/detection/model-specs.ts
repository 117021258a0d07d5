import type { NetSpec } from '../net/spec.ts';
import type { RotatedRcnnConfig } from './config.ts';
import type { MaskRcnnConfig } from './mask-config.ts';
import { maskBoxHeadSpec, maskHeadSpec } from './mask-specs.ts';
import { backboneSpec, boxHeadSpec, rotatedHeadSpec } from './specs.ts';

/**
 * A detector's networks in checkpoint order (the order the models create their parameters in):
 * backbone, box head, then the rotated second stage or Mask R-CNN's mask head. Runtime-free, so
 * training, tfjs inference and the exporter read checkpoints through the same list.
 */
export function modelSpecs(config: RotatedRcnnConfig | MaskRcnnConfig): NetSpec[] {
  if (config.task === 'instance-segmentation') return [backboneSpec(config), maskBoxHeadSpec(config), maskHeadSpec(config)];
  return [backboneSpec(config), boxHeadSpec(config), ...(config.rotatedStage ? [rotatedHeadSpec(config, config.rotatedStage)] : [])];
}
