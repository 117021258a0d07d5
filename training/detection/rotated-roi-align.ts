import type * as tf from '@tensorflow/tfjs';
import { type SamplingPlan, allocatePlan, fpnLevelOfArea, pooledByPlan } from './roi-align.ts';

/**
 * Trainable RoIAlign on ROTATED RoIs (RoI Transformer / Oriented R-CNN's second stage), with the
 * semantics of ONNX `GridSample` (opset 16: bilinear, padding_mode 'zeros', align_corners 0), which
 * is how the exporter writes it (export/detection/rotated-roi.ts): each output cell averages S x S
 * bilinear samples taken on a grid aligned with the box, and a neighbour pixel outside the map
 * contributes zero. Why by hand: tfjs has no rotated RoIAlign (nor a gradient for cropAndResize);
 * the sampling plan depends only on the boxes and is built on the CPU, the features are combined by
 * `weightedGather`, which has a gradient (training/backend/weighted-gather.ts).
 *
 * Box frame: rbox [cx, cy, w, h, angleDeg] as core/geometry/rotated-box.ts (a point (u, v) of the box
 * frame is at x = cx + u cos t + v sin t, y = cy - u sin t + v cos t); output column pw runs along u
 * (the box's w side), row ph along v. `extend` enlarges the pooled window around the box (context
 * beyond a rod's edges; RoI Transformer's extend factor).
 */
export interface RotatedRoiAlignOptions {
  outputSize: number;
  samplingRatio: number;
  /** Feature stride relative to the image (boxes are in image pixels). */
  spatialScale: number;
  /** Window size relative to the box: [along w, along h]. */
  extend: readonly [number, number];
}

/**
 * Image-pixel sample position (x, y) of output cell (ph, pw), sample (iy, ix) of rbox r: the one
 * formula the plan and the exporter's grid share (the exporter evaluates it in the graph).
 */
export function rotatedSamplePoint(rboxes: ArrayLike<number>, r: number, ph: number, pw: number, iy: number, ix: number, o: RotatedRoiAlignOptions): [number, number] {
  const P = o.outputSize, S = o.samplingRatio;
  const cx = rboxes[5 * r], cy = rboxes[5 * r + 1];
  const w = rboxes[5 * r + 2] * o.extend[0], h = rboxes[5 * r + 3] * o.extend[1];
  const t = (rboxes[5 * r + 4] * Math.PI) / 180;
  const c = Math.cos(t), s = Math.sin(t);
  const u = w * ((pw + (ix + 0.5) / S) / P - 0.5);
  const v = h * ((ph + (iy + 0.5) / S) / P - 0.5);
  return [cx + u * c + v * s, cy - u * s + v * c];
}

/** Indices into the flattened [H*W] map and weights, 4 neighbours x samples per output cell. */
export function rotatedRoiAlignPlan(rboxes: ArrayLike<number>, height: number, width: number, o: RotatedRoiAlignOptions): SamplingPlan {
  const R = rboxes.length / 5, P = o.outputSize, S = o.samplingRatio;
  const { index, weight, perCell, norm } = allocatePlan(R, P, S);
  let k = 0;
  const put = (yi: number, xi: number, wgt: number): void => {
    const inside = yi >= 0 && yi < height && xi >= 0 && xi < width;
    index[k] = inside ? yi * width + xi : 0;
    weight[k++] = inside ? wgt * norm : 0;
  };
  for (let r = 0; r < R; r++) {
    for (let ph = 0; ph < P; ph++) {
      for (let pw = 0; pw < P; pw++) {
        for (let iy = 0; iy < S; iy++) {
          for (let ix = 0; ix < S; ix++) {
            const [px, py] = rotatedSamplePoint(rboxes, r, ph, pw, iy, ix, o);
            // Pixel-centre coordinates of the feature map (GridSample's align_corners = 0).
            const x = px * o.spatialScale - 0.5, y = py * o.spatialScale - 0.5;
            const x0 = Math.floor(x), y0 = Math.floor(y);
            const lx = x - x0, ly = y - y0;
            put(y0, x0, (1 - ly) * (1 - lx));
            put(y0, x0 + 1, (1 - ly) * lx);
            put(y0 + 1, x0, ly * (1 - lx));
            put(y0 + 1, x0 + 1, ly * lx);
          }
        }
      }
    }
  }
  return { index, weight, perCell };
}

/** Rotated RoIAlign of `rboxes` (5 per box, image pixels) on one image's feature map [1, H, W, C] -> [R, P, P, C]. */
export function rotatedRoiAlign(feature: tf.Tensor4D, rboxes: ArrayLike<number>, o: RotatedRoiAlignOptions): tf.Tensor4D {
  return pooledByPlan(feature, rboxes.length / 5, o.outputSize, (H, W) => rotatedRoiAlignPlan(rboxes, H, W, o));
}

/** FPN level of each rotated box, by its area w * h (the rule fpnLevels applies to axis-aligned boxes). */
export function rotatedFpnLevels(rboxes: ArrayLike<number>, minLevel: number, maxLevel: number): Int32Array {
  return Int32Array.from({ length: rboxes.length / 5 }, (_, r) => fpnLevelOfArea(rboxes[5 * r + 2] * rboxes[5 * r + 3], minLevel, maxLevel));
}
