import * as tf from '@tensorflow/tfjs';
import { batchedNms } from '../../core/nms/nms.ts';
import type { Rle } from '../../core/mask/rle.ts';
import { pasteMask } from '../../core/mask/paste-mask.ts';
import type { BoxXYXY } from '../../core/geometry/types.ts';
import { type NetParams, initParams, runNet } from '../net/run-tfjs.ts';
import type { NetSpec } from '../../model/net/spec.ts';
import { type MaskCrop, maskTarget } from '../data/instances.ts';
import { BoxCoder } from '../../model/detection/box-coder.ts';
import type { MaskRcnnConfig } from '../../model/detection/mask-config.ts';
import { maskBoxHeadSpec, maskHeadSpec } from '../../model/detection/mask-specs.ts';
import { backboneSpec } from '../../model/detection/specs.ts';
import { TwoStageDetector } from './two-stage.ts';

export interface InstanceTargets {
  boxes: Float32Array;
  classes: Int32Array;
  masks: MaskCrop[];
}

export interface MaskDetection {
  box: BoxXYXY;
  score: number;
  classIndex: number;
  mask: Rle;
}

export type MaskLossParts = Record<'rpn_cls' | 'rpn_loc' | 'roi_cls' | 'roi_loc' | 'mask', tf.Scalar>;

/**
 * Mask R-CNN: the shared backbone/FPN/RPN, an axis-aligned box head (class-agnostic deltas with
 * detectron2's (10, 10, 5, 5) weights) and a 28 x 28 mask head with one mask per class, trained with
 * per-pixel BCE on the GT class's mask of positive RoIs. Inference: per-class NMS, then masks of the
 * kept boxes pasted into the image (bilinear, >= 0.5) as RLE.
 */
export class MaskRcnn extends TwoStageDetector<MaskRcnnConfig> {
  readonly boxHead: NetSpec;
  readonly maskHead: NetSpec;
  private readonly boxCoder = new BoxCoder([10, 10, 5, 5]);

  constructor(config: MaskRcnnConfig, params: NetParams) {
    super(config, params, backboneSpec(config));
    this.boxHead = maskBoxHeadSpec(config);
    this.maskHead = maskHeadSpec(config);
  }

  static create(config: MaskRcnnConfig, seed: number): MaskRcnn {
    return new MaskRcnn(config, new Map([...initParams(backboneSpec(config), seed), ...initParams(maskBoxHeadSpec(config), seed + 1), ...initParams(maskHeadSpec(config), seed + 2)]));
  }

  /** Parameter specs in checkpoint order. */
  specs(): NetSpec[] {
    return [this.backbone, this.boxHead, this.maskHead];
  }

  private boxHeadOut(pooled: tf.Tensor4D) {
    const out = runNet(this.boxHead, this.params, { roi_features: pooled });
    const R = pooled.shape[0];
    return { cls: tf.reshape(out['roi_heads.cls_score'], [R, -1]) as tf.Tensor2D, deltas: tf.reshape(out['roi_heads.bbox_pred'], [R, 4]) as tf.Tensor2D };
  }

  private maskLogits(pooled: tf.Tensor4D): tf.Tensor4D {
    return runNet(this.maskHead, this.params, { mask_features: pooled })['roi_heads.mask_predictor'];
  }

  losses(image: tf.Tensor4D, gt: InstanceTargets, seed: number): MaskLossParts {
    const [, H, W] = image.shape;
    const K = this.config.classes.length;
    const { levels, logits, deltas } = this.features(image);
    const { rpn_cls, rpn_loc } = this.rpnLosses(logits, deltas, gt.boxes, H, W, seed);
    const { boxes, matched, positives: npos } = this.sampleRois(logits, deltas, gt.boxes, H, W, seed);
    const R = matched.length;
    const classTargets = Int32Array.from(matched, (m) => (m >= 0 ? gt.classes[m] : K));
    const { cls, deltas: d } = this.boxHeadOut(this.pool(levels, boxes, this.config.roi.poolSize));
    const roiCls = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(classTargets, 'int32'), K + 1), cls, undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    let roiLoc: tf.Scalar = tf.scalar(0);
    let mask: tf.Scalar = tf.scalar(0);
    if (npos > 0) {
      const t = new Float32Array(npos * 4);
      for (let j = 0; j < npos; j++) this.boxCoder.encode(boxes, j, gt.boxes, matched[j], t, 4 * j);
      roiLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.slice(d, [0, 0], [npos, 4]), tf.tensor2d(t, [npos, 4])))), Math.max(R, 1)) as tf.Scalar;
      const M = this.config.mask.resolution;
      const posBoxes = boxes.subarray(0, npos * 4);
      const targets = new Float32Array(npos * M * M);
      for (let j = 0; j < npos; j++) maskTarget(gt.masks[matched[j]], posBoxes, 4 * j, M, targets, j * M * M, this.config.mask.softTargets === true);
      const ml = this.maskLogits(this.pool(levels, Float32Array.from(posBoxes), this.config.mask.poolSize)); // [npos, M, M, K]
      const chosen = ownClassLogits(ml, Int32Array.from({ length: npos }, (_, j) => gt.classes[matched[j]]), K);
      mask = tf.losses.sigmoidCrossEntropy(tf.tensor1d(targets), chosen, undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    }
    return { rpn_cls, rpn_loc, roi_cls: roiCls, roi_loc: roiLoc, mask };
  }

  predict(image: tf.Tensor4D, valid: { width: number; height: number }): MaskDetection[] {
    const K = this.config.classes.length;
    const t = this.config.test;
    return this.withScope(() => {
      const scored = this.scoreProposals(image, (pooled) => this.boxHeadOut(pooled));
      if (!scored) return [];
      const { levels, boxes: proposals, probs, deltas: dd } = scored;
      const R = proposals.length / 4;
      const boxes: BoxXYXY[] = [], scores: number[] = [], classes: number[] = [];
      const b = new Float32Array(4);
      for (let r = 0; r < R; r++) {
        this.boxCoder.decode(proposals, r, dd, 4 * r, b, 0);
        const box: BoxXYXY = [Math.max(0, b[0]), Math.max(0, b[1]), Math.min(valid.width, b[2]), Math.min(valid.height, b[3])];
        if (!(box[2] - box[0] > 1 && box[3] - box[1] > 1)) continue;
        for (let k = 0; k < K; k++) {
          const s = probs[r * (K + 1) + k];
          if (s <= t.scoreThreshold) continue;
          boxes.push(box);
          scores.push(s);
          classes.push(k);
        }
      }
      const keep = batchedNms(boxes, scores, classes, t.nmsThreshold).slice(0, t.detectionsPerImage);
      if (keep.length === 0) return [];
      const kept = new Float32Array(keep.length * 4);
      keep.forEach((i, j) => kept.set(boxes[i], 4 * j));
      const M = this.config.mask.resolution;
      const probsMask = tf.sigmoid(this.maskLogits(this.pool(levels, kept, this.config.mask.poolSize))).dataSync() as Float32Array;
      return keep.map((i, j) => ({
        box: boxes[i],
        score: scores[i],
        classIndex: classes[i],
        // probsMask is [N, M, M, K] (tfjs NHWC): channel classes[i] of detection j.
        mask: pasteMask((u, v) => probsMask[((j * M + v) * M + u) * K + classes[i]], M, boxes[i], valid.width, valid.height),
      }));
    });
  }
}

/**
 * Each positive RoI's mask logits for its own class, flattened to [npos * M * M]. One class is a
 * reshape: tf.oneHot refuses depth 1 ("depth must be >=2"), and one-class datasets are the common case.
 */
export function ownClassLogits(ml: tf.Tensor4D, classes: Int32Array, K: number): tf.Tensor1D {
  const [n, M] = ml.shape;
  if (K === 1) return tf.reshape(ml, [n * M * M]);
  const cls1h = tf.oneHot(tf.tensor1d(classes, 'int32'), K).reshape([n, 1, 1, K]);
  return tf.sum(tf.mul(ml, cls1h), 3).reshape([n * M * M]);
}
