import * as tf from '@tensorflow/tfjs';
import { batchedNmsRotated } from '../../core/nms/nms.ts';
import { rotatedBoxEnclosing, rotatedBoxFromXYXY } from '../../core/geometry/rotated-box.ts';
import { rotatedIoU } from '../../core/geometry/rotated-iou.ts';
import type { RotatedBox } from '../../core/geometry/types.ts';
import { type NetParams, initParams, runNet } from '../net/run-tfjs.ts';
import type { NetSpec } from '../../model/net/spec.ts';
import { RotatedBoxCoder, RotatedRoiCoder } from '../../model/detection/box-coder.ts';
import type { RotatedRcnnConfig, RotatedStageConfig } from '../../model/detection/config.ts';
import { matchBoxes, sampleMatches } from './matcher.ts';
import { rotatedFpnLevels, rotatedRoiAlign } from './rotated-roi-align.ts';
import { FPN_STRIDES, backboneSpec, boxHeadSpec, rotatedHeadSpec } from '../../model/detection/specs.ts';
import { TwoStageDetector, poolByLevel } from './two-stage.ts';

/** Ground truth of one image: canonical rboxes (5 per object) and 0-based class indices. */
export interface RotatedTargets {
  rboxes: Float32Array;
  classes: Int32Array;
}

export interface RotatedDetection {
  rbox: RotatedBox;
  score: number;
  classIndex: number;
}

/** A decoded rbox a RoI can be pooled at: positive size, finite centre. */
function usable(rb: Float32Array): boolean {
  return rb[2] > 0 && rb[3] > 0 && Number.isFinite(rb[0]) && Number.isFinite(rb[1]);
}

export type LossParts = Record<'rpn_cls' | 'rpn_loc' | 'roi_cls' | 'roi_loc', tf.Scalar> & Partial<Record<'rroi_cls' | 'rroi_loc', tf.Scalar>>;

/**
 * Rotated Faster R-CNN: ResNet + FPN, an axis-aligned RPN, RoIAlign on axis-aligned proposals and a
 * box head that regresses ORIENTED boxes (RotatedBoxCoder) with class-agnostic deltas; inference
 * applies emseg's exact rotated NMS per class. The networks are the two specs (`backboneSpec`,
 * `boxHeadSpec`); everything between them (anchors, proposals, RoIAlign, decoding, NMS) is the glue
 * the exporter reproduces in ONNX. One image per step (EM images are large; batch via accumulation).
 */
export class RotatedRcnn extends TwoStageDetector<RotatedRcnnConfig> {
  readonly head: NetSpec;
  /** The second stage on rotated RoIs, when the config asks for one. */
  readonly rotatedHead: NetSpec | null;
  private readonly roiCoder = new RotatedBoxCoder();
  private readonly rroiCoder = new RotatedRoiCoder();

  constructor(config: RotatedRcnnConfig, params: NetParams) {
    super(config, params, backboneSpec(config));
    this.head = boxHeadSpec(config);
    this.rotatedHead = config.rotatedStage ? rotatedHeadSpec(config, config.rotatedStage) : null;
  }

  static create(config: RotatedRcnnConfig, seed: number): RotatedRcnn {
    const backbone = initParams(backboneSpec(config), seed);
    const head = initParams(boxHeadSpec(config), seed + 1);
    const second = config.rotatedStage ? initParams(rotatedHeadSpec(config, config.rotatedStage), seed + 2) : new Map();
    return new RotatedRcnn(config, new Map([...backbone, ...head, ...second]));
  }

  private rotatedHead_(pooled: tf.Tensor4D): { cls: tf.Tensor2D; deltas: tf.Tensor2D } {
    if (!this.rotatedHead) throw new Error('rotated head requested but the config has no rotatedStage');
    return this.runHead(this.rotatedHead, 'rroi_features', 'roi_heads2', 5, pooled);
  }

  /** A box head's class logits [R, K + 1] and deltas [R, dim] on pooled features. */
  private runHead(spec: NetSpec, input: string, prefix: string, dim: number, pooled: tf.Tensor4D): { cls: tf.Tensor2D; deltas: tf.Tensor2D } {
    const out = runNet(spec, this.params, { [input]: pooled });
    const R = pooled.shape[0];
    return { cls: tf.reshape(out[`${prefix}.cls_score`], [R, -1]) as tf.Tensor2D, deltas: tf.reshape(out[`${prefix}.rbox_pred`], [R, dim]) as tf.Tensor2D };
  }

  /** Rotated RoIAlign of each rbox on its FPN level (by area); rows in the order of `rboxes`. */
  protected poolRotated(levels: tf.Tensor4D[], rboxes: Float32Array, stage: RotatedStageConfig): tf.Tensor4D {
    return poolByLevel(levels, rboxes, 5, rotatedFpnLevels(rboxes, 2, 5), (feature, sub, l) =>
      rotatedRoiAlign(feature, sub, { outputSize: stage.poolSize, samplingRatio: stage.samplingRatio, spatialScale: 1 / FPN_STRIDES[l], extend: stage.extend }));
  }

  /**
   * Rotated RoIs for the second stage from first-stage deltas: the decoded rbox of each RoI, or
   * the RoI itself (angle 0) where the decoding is degenerate.
   */
  private decodeAll(rois: Float32Array, deltas: Float32Array): Float32Array {
    const R = rois.length / 4;
    const out = new Float32Array(R * 5);
    const rb = new Float32Array(5);
    for (let r = 0; r < R; r++) {
      this.roiCoder.decode(rois, r, deltas, 6 * r, rb, 0);
      if (usable(rb)) out.set(rb, 5 * r);
      else out.set(rotatedBoxFromXYXY([rois[4 * r], rois[4 * r + 1], rois[4 * r + 2], rois[4 * r + 3]]), 5 * r);
    }
    return out;
  }

  /**
   * Second-stage losses: RoIs are the first stage's decoded boxes (no gradient through them, as in
   * Cascade R-CNN) plus the GT rboxes, matched by rotated IoU and sampled; CE on the classes, L1 on
   * the rotated deltas of the positives.
   */
  private rotatedStageLosses(levels: tf.Tensor4D[], rois: Float32Array, stage1Deltas: Float32Array, gt: RotatedTargets, seed: number): { rroi_cls: tf.Scalar; rroi_loc: tf.Scalar } {
    const stage = this.config.rotatedStage as RotatedStageConfig;
    const K = this.config.classes.length;
    const G = gt.classes.length;
    const decoded = this.decodeAll(rois, stage1Deltas);
    const B = decoded.length / 5 + G;
    const cand = new Float32Array(B * 5);
    cand.set(decoded);
    cand.set(gt.rboxes, decoded.length);
    const iou = new Float32Array(G * B);
    for (let g = 0; g < G; g++) {
      const gb = Array.from(gt.rboxes.subarray(5 * g, 5 * g + 5)) as unknown as RotatedBox;
      for (let b = 0; b < B; b++) iou[g * B + b] = rotatedIoU(gb, Array.from(cand.subarray(5 * b, 5 * b + 5)) as unknown as RotatedBox);
    }
    const match = matchBoxes(iou, G, B, stage.iouThreshold, stage.iouThreshold, false);
    const s = sampleMatches(match, stage.batchPerImage, stage.positiveFraction, seed + 2);
    const picked = [...s.positives, ...s.negatives];
    const R = picked.length, npos = s.positives.length;
    const rr = new Float32Array(R * 5);
    picked.forEach((i, j) => rr.set(cand.subarray(5 * i, 5 * i + 5), 5 * j));
    const { cls, deltas } = this.rotatedHead_(this.poolRotated(levels, rr, stage));
    const classTargets = Int32Array.from(picked, (i) => (match[i] >= 0 ? gt.classes[match[i]] : K));
    const rroiCls = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(classTargets, 'int32'), K + 1), cls, undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    let rroiLoc: tf.Scalar = tf.scalar(0);
    if (npos > 0) {
      const t = new Float32Array(npos * 5);
      for (let j = 0; j < npos; j++) this.rroiCoder.encode(rr, j, gt.rboxes, match[picked[j]], t, 5 * j);
      rroiLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.slice(deltas, [0, 0], [npos, 5]), tf.tensor2d(t, [npos, 5])))), Math.max(R, 1)) as tf.Scalar;
    }
    return { rroi_cls: rroiCls, rroi_loc: rroiLoc };
  }

  private head_(pooled: tf.Tensor4D): { cls: tf.Tensor2D; deltas: tf.Tensor2D } {
    return this.runHead(this.head, 'roi_features', 'roi_heads', 6, pooled);
  }

  /**
   * Training losses for one image ([1, H, W, 1], H and W multiples of 32). Must run inside
   * tf.variableGrads / tf.tidy. `seed` makes anchor and RoI sampling reproducible.
   */
  losses(image: tf.Tensor4D, gt: RotatedTargets, seed: number): LossParts {
    const [, H, W] = image.shape;
    const G = gt.classes.length;
    const K = this.config.classes.length;
    const gtBoxes = new Float32Array(G * 4);
    for (let g = 0; g < G; g++) gtBoxes.set(rotatedBoxEnclosing(Array.from(gt.rboxes.subarray(5 * g, 5 * g + 5)) as unknown as RotatedBox), 4 * g);
    const { levels, logits, deltas } = this.features(image);
    const { rpn_cls, rpn_loc } = this.rpnLosses(logits, deltas, gtBoxes, H, W, seed);
    const { boxes: roiBoxes, matched, positives: npos } = this.sampleRois(logits, deltas, gtBoxes, H, W, seed);
    const R = matched.length;
    const classTargets = Int32Array.from(matched, (m) => (m >= 0 ? gt.classes[m] : K));
    const { cls, deltas: roiDeltas } = this.head_(this.pool(levels, roiBoxes, this.config.roi.poolSize));
    const roiCls = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(classTargets, 'int32'), K + 1), cls, undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    let roiLoc: tf.Scalar = tf.scalar(0);
    if (npos > 0) {
      const t = new Float32Array(npos * 6);
      for (let j = 0; j < npos; j++) this.roiCoder.encode(roiBoxes, j, gt.rboxes, matched[j], t, 6 * j);
      roiLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.slice(roiDeltas, [0, 0], [npos, 6]), tf.tensor2d(t, [npos, 6])))), Math.max(R, 1)) as tf.Scalar;
    }
    const parts: LossParts = { rpn_cls, rpn_loc, roi_cls: roiCls, roi_loc: roiLoc };
    if (this.rotatedHead && G > 0) Object.assign(parts, this.rotatedStageLosses(levels, roiBoxes, roiDeltas.dataSync() as Float32Array, gt, seed));
    return parts;
  }

  /** Detections for one image ([1, H, W, 1], H and W multiples of 32; `valid` = the unpadded size). */
  predict(image: tf.Tensor4D, valid: { width: number; height: number }): RotatedDetection[] {
    const K = this.config.classes.length;
    const t = this.config.test;
    return this.withScope(() => {
      const scored = this.scoreProposals(image, (pooled) => this.head_(pooled));
      if (!scored) return [];
      let { boxes: proposals, probs, deltas: dd } = scored;
      const R = proposals.length / 4;
      const rboxes: RotatedBox[] = [], scores: number[] = [], classes: number[] = [];
      const rb = new Float32Array(5);
      for (let pass = 0; pass < (this.rotatedHead ? 0 : t.refine ?? 0); pass++) {
        // Re-pool at the box enclosing each decoded rbox (the previous box where the decoding is
        // degenerate) and regress again: the head was trained on RoIs up to the exact GT boxes.
        const next = new Float32Array(R * 4);
        for (let r = 0; r < R; r++) {
          this.roiCoder.decode(proposals, r, dd, 6 * r, rb, 0);
          next.set(rb[2] > 0 && rb[3] > 0 ? rotatedBoxEnclosing([rb[0], rb[1], rb[2], rb[3], rb[4]]) : proposals.subarray(4 * r, 4 * r + 4), 4 * r);
        }
        const { cls, deltas } = this.head_(this.pool(scored.levels, next, this.config.roi.poolSize));
        proposals = next;
        probs = tf.softmax(cls).dataSync() as Float32Array;
        dd = deltas.dataSync() as Float32Array;
      }
      let final: Float32Array;
      const stage = this.config.rotatedStage;
      if (stage) {
        // Second stage: pool each first-stage box along its own axes, score and regress again; the
        // score is the two stages' class probabilities mixed by `scoreWeight` (Cascade R-CNN's
        // ensemble). `refine` repeats this stage from its own boxes (RotatedRcnn's refinement
        // applies to the last stage).
        const rrois = this.decodeAll(proposals, dd);
        let { cls, deltas } = this.rotatedHead_(this.poolRotated(scored.levels, rrois, stage));
        let rois2 = rrois;
        for (let pass = 0; pass < (t.refine ?? 0); pass++) {
          const d2 = deltas.dataSync() as Float32Array;
          const next = new Float32Array(R * 5);
          for (let r = 0; r < R; r++) {
            this.rroiCoder.decode(rois2, r, d2, 5 * r, rb, 0);
            next.set(usable(rb) ? rb : rois2.subarray(5 * r, 5 * r + 5), 5 * r);
          }
          rois2 = next;
          ({ cls, deltas } = this.rotatedHead_(this.poolRotated(scored.levels, rois2, stage)));
        }
        const p2 = tf.softmax(cls).dataSync() as Float32Array;
        const mixed = new Float32Array(p2.length);
        for (let i = 0; i < p2.length; i++) mixed[i] = (1 - stage.scoreWeight) * probs[i] + stage.scoreWeight * p2[i];
        probs = mixed;
        const d2 = deltas.dataSync() as Float32Array;
        final = new Float32Array(R * 5);
        for (let r = 0; r < R; r++) {
          this.rroiCoder.decode(rois2, r, d2, 5 * r, rb, 0);
          final.set(rb, 5 * r);
        }
      } else {
        final = new Float32Array(R * 5);
        for (let r = 0; r < R; r++) {
          this.roiCoder.decode(proposals, r, dd, 6 * r, rb, 0);
          final.set(rb, 5 * r);
        }
      }
      for (let r = 0; r < R; r++) {
        rb.set(final.subarray(5 * r, 5 * r + 5));
        if (!(rb[2] > 0 && rb[3] > 0) || rb[0] < 0 || rb[1] < 0 || rb[0] > valid.width || rb[1] > valid.height) continue;
        for (let k = 0; k < K; k++) {
          const s = probs[r * (K + 1) + k];
          if (s <= t.scoreThreshold) continue;
          rboxes.push([rb[0], rb[1], rb[2], rb[3], rb[4]]);
          scores.push(s);
          classes.push(k);
        }
      }
      const keep = batchedNmsRotated(rboxes, scores, classes, t.nmsThreshold).slice(0, t.detectionsPerImage);
      return keep.map((i) => ({ rbox: rboxes[i], score: scores[i], classIndex: classes[i] }));
    });
  }
}
