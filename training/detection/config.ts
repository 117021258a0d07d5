import type { TwoStageConfig } from './two-stage.ts';

/** Rotated Faster R-CNN (nanorods): the shared two-stage settings plus its task tag. */
export interface RotatedRcnnConfig extends TwoStageConfig {
  task: 'rotated-detection';
}

/** Settings both detectors start from (detectron2's defaults, scaled to a light backbone and EM sizes). */
export function twoStageDefaults(classes: string[]): TwoStageConfig {
  return {
    classes,
    backbone: { widths: [32, 64, 128, 256], blocks: [2, 2, 2, 2], norm: 'gn' },
    fpnChannels: 64,
    anchorSizes: [16, 32, 64, 128],
    anchorRatios: [0.5, 1, 2],
    rpn: { batchPerImage: 256, positiveFraction: 0.5, iouThresholds: [0.3, 0.7], preNmsTopKTrain: 2000, postNmsTopKTrain: 1000, preNmsTopKTest: 1000, postNmsTopKTest: 500, nmsThreshold: 0.7 },
    roi: { batchPerImage: 256, positiveFraction: 0.25, iouThreshold: 0.5, poolSize: 7, samplingRatio: 1, fcDim: 256 },
    test: { scoreThreshold: 0.05, nmsThreshold: 0.3, detectionsPerImage: 100 },
  };
}

export function defaultRotatedRcnnConfig(classes: string[]): RotatedRcnnConfig {
  return { task: 'rotated-detection', ...twoStageDefaults(classes) };
}
