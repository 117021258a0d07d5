import { twoStageDefaults } from './config.ts';
import type { TwoStageConfig } from './config.ts';

/** Mask R-CNN (vesicles, holes): the two-stage settings plus the mask head. */
export interface MaskRcnnConfig extends TwoStageConfig {
  task: 'instance-segmentation';
  /**
   * `softTargets`: train the mask head on each cell's coverage by the GT mask (a fraction in [0, 1])
   * instead of coverage >= 0.5, so the 0.5 level of the pasted probabilities can fall between cells
   * where the true boundary does (sub-cell boundary precision; default false, detectron2's binary targets).
   */
  mask: { poolSize: number; numConvs: number; convDim: number; resolution: number; softTargets?: boolean };
}

export function defaultMaskRcnnConfig(classes: string[]): MaskRcnnConfig {
  const base = twoStageDefaults(classes);
  return {
    task: 'instance-segmentation',
    ...base,
    // Masked objects (vesicles) rarely overlap: a looser NMS and more detections per image.
    test: { scoreThreshold: 0.05, nmsThreshold: 0.5, detectionsPerImage: 200 },
    mask: { poolSize: 14, numConvs: 4, convDim: 64, resolution: 28 },
  };
}
