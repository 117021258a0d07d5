import type { ResNetOptions } from '../net/builders.ts';

/** What every two-stage detector config has (the RPN and the RoI sampling). */
export interface TwoStageConfig {
  classes: string[];
  backbone: ResNetOptions;
  fpnChannels: number;
  anchorSizes: [number, number, number, number];
  anchorRatios: number[];
  rpn: {
    batchPerImage: number;
    positiveFraction: number;
    iouThresholds: [number, number];
    preNmsTopKTrain: number;
    postNmsTopKTrain: number;
    preNmsTopKTest: number;
    postNmsTopKTest: number;
    nmsThreshold: number;
  };
  roi: { batchPerImage: number; positiveFraction: number; iouThreshold: number; poolSize: number; samplingRatio: number; fcDim: number };
  /**
   * Inference settings. `refine` (rotated detector only, default 0): extra box-head passes, each
   * re-pooling every proposal at the axis-aligned box enclosing its decoded rotated box and regressing
   * again from there (iterative box regression at test time); scores are the last pass's.
   */
  test: { scoreThreshold: number; nmsThreshold: number; detectionsPerImage: number; refine?: number };
}


/** Rotated Faster R-CNN (nanorods): the shared two-stage settings plus its task tag. */
export interface RotatedRcnnConfig extends TwoStageConfig {
  task: 'rotated-detection';
  /**
   * Optional second stage on ROTATED RoIs (docs/training.md): the first stage's decoded boxes are
   * pooled along their own axes (rotated RoIAlign, window `extend` x the box) and a second head
   * (`roi_heads2.*`) scores them and regresses rotated deltas (RotatedRoiCoder). Training samples
   * its RoIs among the first stage's decoded boxes and the GT, matched by rotated IoU.
   */
  rotatedStage?: RotatedStageConfig;
}

export interface RotatedStageConfig {
  /** Rotated IoU at which a RoI is a positive. */
  iouThreshold: number;
  batchPerImage: number;
  positiveFraction: number;
  poolSize: number;
  samplingRatio: number;
  extend: [number, number];
  /** Weight of the second stage's score in the final one (the rest is the first stage's). */
  scoreWeight: number;
}

export const DEFAULT_ROTATED_STAGE: RotatedStageConfig = {
  iouThreshold: 0.5, batchPerImage: 256, positiveFraction: 0.5, poolSize: 7, samplingRatio: 2, extend: [1.2, 1.4], scoreWeight: 0.5,
};

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
