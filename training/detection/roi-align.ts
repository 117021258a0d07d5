import * as tf from '@tensorflow/tfjs';
import { weightedGather } from '../backend/weighted-gather.ts';

/**
 * Trainable RoIAlign with ONNX `RoiAlign` semantics (opset 16, coordinate_transformation_mode
 * 'half_pixel', mode 'avg', fixed sampling_ratio) and detectron2's ROIAlignV2: the exporter emits
 * the standard op and the two agree to float rounding. Sampling positions and bilinear weights are
 * computed on the CPU (they depend only on the boxes); the features are combined by `weightedGather`
 * (training/backend/weighted-gather.ts), which has a gradient. tfjs has no gradient for
 * cropAndResize, so this is written by hand.
 */
export interface RoiAlignOptions {
  outputSize: number;
  samplingRatio: number;
  /** Feature stride relative to the image (boxes are in image pixels). */
  spatialScale: number;
}

/** A sampling plan: per output cell, `perCell` (4 neighbours x samples) indices into the flattened [H*W] map and weights. */
export interface SamplingPlan {
  index: Int32Array;
  weight: Float32Array;
  perCell: number;
}

/** An empty plan for R boxes of P x P cells with S x S samples each, and the per-sample weight 1 / S^2. */
export function allocatePlan(R: number, P: number, S: number): SamplingPlan & { norm: number } {
  const perCell = S * S * 4;
  return { index: new Int32Array(R * P * P * perCell), weight: new Float32Array(R * P * P * perCell), perCell, norm: 1 / (S * S) };
}

/** Indices into the flattened [H*W] map and weights, 4 neighbours x samples per output cell. */
export function roiAlignPlan(boxes: ArrayLike<number>, height: number, width: number, o: RoiAlignOptions): SamplingPlan {
  const R = boxes.length / 4, P = o.outputSize, S = o.samplingRatio;
  const { index, weight, perCell, norm } = allocatePlan(R, P, S);
  let k = 0;
  for (let r = 0; r < R; r++) {
    // half_pixel: shift by -0.5 after scaling.
    const x1 = boxes[4 * r] * o.spatialScale - 0.5, y1 = boxes[4 * r + 1] * o.spatialScale - 0.5;
    const x2 = boxes[4 * r + 2] * o.spatialScale - 0.5, y2 = boxes[4 * r + 3] * o.spatialScale - 0.5;
    const binH = (y2 - y1) / P, binW = (x2 - x1) / P;
    for (let ph = 0; ph < P; ph++) {
      for (let pw = 0; pw < P; pw++) {
        for (let iy = 0; iy < S; iy++) {
          const yy = y1 + ph * binH + ((iy + 0.5) * binH) / S;
          for (let ix = 0; ix < S; ix++) {
            const xx = x1 + pw * binW + ((ix + 0.5) * binW) / S;
            if (yy < -1 || yy > height || xx < -1 || xx > width) {
              for (let q = 0; q < 4; q++) {
                index[k] = 0;
                weight[k++] = 0;
              }
              continue;
            }
            let y = Math.max(yy, 0), x = Math.max(xx, 0);
            let yl = Math.floor(y), xl = Math.floor(x), yh: number, xh: number;
            if (yl >= height - 1) {
              yh = yl = height - 1;
              y = yl;
            } else yh = yl + 1;
            if (xl >= width - 1) {
              xh = xl = width - 1;
              x = xl;
            } else xh = xl + 1;
            const ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
            index[k] = yl * width + xl;
            weight[k++] = hy * hx * norm;
            index[k] = yl * width + xh;
            weight[k++] = hy * lx * norm;
            index[k] = yh * width + xl;
            weight[k++] = ly * hx * norm;
            index[k] = yh * width + xh;
            weight[k++] = ly * lx * norm;
          }
        }
      }
    }
  }
  return { index, weight, perCell };
}

/** RoIAlign of `boxes` (xyxy image pixels, flat) on one image's feature map [1, H, W, C] -> [R, P, P, C]. */
export function roiAlign(feature: tf.Tensor4D, boxes: ArrayLike<number>, o: RoiAlignOptions): tf.Tensor4D {
  return pooledByPlan(feature, boxes.length / 4, o.outputSize, (H, W) => roiAlignPlan(boxes, H, W, o));
}

/** Features [1, H, W, C] sampled by a plan of R x P x P cells (the plans of RoIAlign and rotated RoIAlign) -> [R, P, P, C]. */
export function pooledByPlan(feature: tf.Tensor4D, R: number, P: number, plan: (height: number, width: number) => SamplingPlan): tf.Tensor4D {
  const [, H, W, C] = feature.shape;
  if (R === 0) return tf.zeros([0, P, P, C]);
  const { index, weight, perCell } = plan(H, W);
  return tf.tidy(() => tf.reshape(weightedGather(tf.reshape(feature, [H * W, C]), index, weight, perCell), [R, P, P, C]) as tf.Tensor4D);
}

/** FPN level of a box of `area` (detectron2's assign_boxes_to_levels: canonical 224 at level 4), clamped. */
export function fpnLevelOfArea(area: number, minLevel: number, maxLevel: number, canonicalSize = 224, canonicalLevel = 4): number {
  const level = Math.floor(canonicalLevel + Math.log2(Math.sqrt(Math.max(area, 0)) / canonicalSize + 1e-8));
  return Math.min(Math.max(level, minLevel), maxLevel);
}

/** FPN level of each xyxy box, clamped. */
export function fpnLevels(boxes: ArrayLike<number>, minLevel: number, maxLevel: number): Int32Array {
  return Int32Array.from({ length: boxes.length / 4 }, (_, r) => fpnLevelOfArea((boxes[4 * r + 2] - boxes[4 * r]) * (boxes[4 * r + 3] - boxes[4 * r + 1]), minLevel, maxLevel));
}
