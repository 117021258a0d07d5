import * as tf from '@tensorflow/tfjs';
import { batchedNmsRotated } from '../../core/nms/nms.ts';
import { rotatedBoxEnclosing } from '../../core/geometry/rotated-box.ts';
import type { RotatedBox } from '../../core/geometry/types.ts';
import { type NetParams, initParams, runNet } from '../net/run-tfjs.ts';
import type { NetSpec } from '../net/spec.ts';
import { generateAnchors } from './anchors.ts';
import { BoxCoder, RotatedBoxCoder } from './box-coder.ts';
import type { RotatedRcnnConfig } from './config.ts';
import { matchBoxes, pairwiseIoU, sampleMatches } from './matcher.ts';
import { rpnProposals } from './proposals.ts';
import { fpnLevels, roiAlign } from './roi-align.ts';
import { FPN_LEVELS, FPN_STRIDES, backboneSpec, boxHeadSpec } from './specs.ts';

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

export type LossParts = Record<'rpn_cls' | 'rpn_loc' | 'roi_cls' | 'roi_loc', tf.Scalar>;

/**
 * Rotated Faster R-CNN: ResNet + FPN, an axis-aligned RPN, RoIAlign on axis-aligned proposals and a
 * box head that regresses ORIENTED boxes (RotatedBoxCoder) with class-agnostic deltas; inference
 * applies emseg's exact rotated NMS per class. The networks are the two specs (`backboneSpec`,
 * `boxHeadSpec`); everything between them (anchors, proposals, RoIAlign, decoding, NMS) is the glue
 * the exporter reproduces in ONNX. One image per step (EM images are large; batch via accumulation).
 */
export class RotatedRcnn {
  readonly backbone: NetSpec;
  readonly head: NetSpec;
  private anchorCache = new Map<string, { anchors: Float32Array; perLevel: number[] }>();
  private readonly rpnCoder = new BoxCoder([1, 1, 1, 1]);
  private readonly roiCoder = new RotatedBoxCoder();

  constructor(
    readonly config: RotatedRcnnConfig,
    readonly params: NetParams,
  ) {
    this.backbone = backboneSpec(config);
    this.head = boxHeadSpec(config);
  }

  static create(config: RotatedRcnnConfig, seed: number): RotatedRcnn {
    const backbone = initParams(backboneSpec(config), seed);
    const head = initParams(boxHeadSpec(config), seed + 1);
    return new RotatedRcnn(config, new Map([...backbone, ...head]));
  }

  anchors(height: number, width: number): { anchors: Float32Array; perLevel: number[] } {
    const key = `${height}x${width}`;
    let a = this.anchorCache.get(key);
    if (!a) {
      a = generateAnchors(FPN_STRIDES.map((stride, i) => ({ stride, size: this.config.anchorSizes[i], height: height / stride, width: width / stride })), this.config.anchorRatios);
      this.anchorCache.set(key, a);
    }
    return a;
  }

  /** Backbone + RPN outputs; per level logits [1,H,W,A] and deltas [1,H,W,4A]. */
  private features(image: tf.Tensor4D) {
    const out = runNet(this.backbone, this.params, { image });
    const levels = FPN_LEVELS.map((l) => out[l]);
    const logits = FPN_LEVELS.map((_, i) => tf.reshape(out[`rpn.objectness.l${i}`], [-1]));
    const deltas = FPN_LEVELS.map((_, i) => tf.reshape(out[`rpn.deltas.l${i}`], [-1, 4]));
    return { levels, logits, deltas };
  }

  private proposals(logits: tf.Tensor[], deltas: tf.Tensor[], height: number, width: number, train: boolean) {
    const { anchors, perLevel } = this.anchors(height, width);
    const r = this.config.rpn;
    return rpnProposals(
      logits.map((t) => t.dataSync() as Float32Array),
      deltas.map((t) => t.dataSync() as Float32Array),
      anchors, perLevel, width, height,
      train ? r.preNmsTopKTrain : r.preNmsTopKTest,
      train ? r.postNmsTopKTrain : r.postNmsTopKTest,
      r.nmsThreshold,
    );
  }

  /** RoIAlign each box on its FPN level; rows in the order of `boxes`. */
  private pool(levels: tf.Tensor4D[], boxes: Float32Array): tf.Tensor4D {
    const R = boxes.length / 4;
    const lv = fpnLevels(boxes, 2, 5);
    const parts: tf.Tensor4D[] = [];
    const order: number[] = [];
    for (let l = 0; l < 4; l++) {
      const idx: number[] = [];
      for (let i = 0; i < R; i++) if (lv[i] === l + 2) idx.push(i);
      if (idx.length === 0) continue;
      const sub = new Float32Array(idx.length * 4);
      idx.forEach((i, j) => sub.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j));
      parts.push(roiAlign(levels[l], sub, { outputSize: this.config.roi.poolSize, samplingRatio: this.config.roi.samplingRatio, spatialScale: 1 / FPN_STRIDES[l] }));
      order.push(...idx);
    }
    const pooled = tf.concat(parts, 0);
    const inverse = new Int32Array(R);
    order.forEach((orig, pos) => (inverse[orig] = pos));
    return tf.gather(pooled, tf.tensor1d(inverse, 'int32')) as tf.Tensor4D;
  }

  private head_(pooled: tf.Tensor4D): { cls: tf.Tensor2D; deltas: tf.Tensor2D } {
    const out = runNet(this.head, this.params, { roi_features: pooled });
    const R = pooled.shape[0];
    return { cls: tf.reshape(out['roi_heads.cls_score'], [R, -1]) as tf.Tensor2D, deltas: tf.reshape(out['roi_heads.rbox_pred'], [R, 6]) as tf.Tensor2D };
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

    // RPN: label anchors, sample, losses.
    const { anchors } = this.anchors(H, W);
    const A = anchors.length / 4;
    const match = matchBoxes(pairwiseIoU(gtBoxes, anchors), G, A, this.config.rpn.iouThresholds[0], this.config.rpn.iouThresholds[1], true);
    const { positives, negatives } = sampleMatches(match, this.config.rpn.batchPerImage, this.config.rpn.positiveFraction, seed);
    const sampled = [...positives, ...negatives];
    const allLogits = tf.concat(logits, 0);
    const allDeltas = tf.concat(deltas, 0);
    const labels = tf.tensor1d(sampled.map((_, i) => (i < positives.length ? 1 : 0)));
    const rpnCls = tf.losses.sigmoidCrossEntropy(labels, tf.gather(allLogits, tf.tensor1d(sampled, 'int32')), undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    const norm = Math.max(sampled.length, 1);
    let rpnLoc: tf.Scalar = tf.scalar(0);
    if (positives.length > 0) {
      const t = new Float32Array(positives.length * 4);
      positives.forEach((a, j) => this.rpnCoder.encode(anchors, a, gtBoxes, match[a], t, 4 * j));
      rpnLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.gather(allDeltas, tf.tensor1d(positives, 'int32')), tf.tensor2d(t, [positives.length, 4])))), norm) as tf.Scalar;
    }

    // Proposals (no gradient) + GT boxes, matched and sampled for the box head.
    const prop = this.proposals(logits, deltas, H, W, true);
    const P = prop.boxes.length / 4 + G;
    const boxes = new Float32Array(P * 4);
    boxes.set(prop.boxes);
    boxes.set(gtBoxes, prop.boxes.length);
    const roiMatch = matchBoxes(pairwiseIoU(gtBoxes, boxes), G, P, this.config.roi.iouThreshold, this.config.roi.iouThreshold, false);
    const roiSample = sampleMatches(roiMatch, this.config.roi.batchPerImage, this.config.roi.positiveFraction, seed + 1);
    const rois = [...roiSample.positives, ...roiSample.negatives];
    const R = rois.length;
    const roiBoxes = new Float32Array(R * 4);
    rois.forEach((i, j) => roiBoxes.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j));
    const classTargets = Int32Array.from(rois, (i) => (roiMatch[i] >= 0 ? gt.classes[roiMatch[i]] : K));
    const { cls, deltas: roiDeltas } = this.head_(this.pool(levels, roiBoxes));
    const roiCls = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(classTargets, 'int32'), K + 1), cls, undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    let roiLoc: tf.Scalar = tf.scalar(0);
    const npos = roiSample.positives.length;
    if (npos > 0) {
      const t = new Float32Array(npos * 6);
      for (let j = 0; j < npos; j++) this.roiCoder.encode(roiBoxes, j, gt.rboxes, roiMatch[rois[j]], t, 6 * j);
      roiLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.slice(roiDeltas, [0, 0], [npos, 6]), tf.tensor2d(t, [npos, 6])))), Math.max(R, 1)) as tf.Scalar;
    }
    return { rpn_cls: rpnCls, rpn_loc: rpnLoc, roi_cls: roiCls, roi_loc: roiLoc };
  }

  /** Detections for one image ([1, H, W, 1], H and W multiples of 32; `valid` = the unpadded size). */
  predict(image: tf.Tensor4D, valid: { width: number; height: number }): RotatedDetection[] {
    const [, H, W] = image.shape;
    const K = this.config.classes.length;
    const t = this.config.test;
    // A manual scope (tf.tidy only returns tensors): every intermediate is freed on exit.
    tf.engine().startScope();
    try {
      const { levels, logits, deltas } = this.features(image);
      const prop = this.proposals(logits, deltas, H, W, false);
      const R = prop.boxes.length / 4;
      if (R === 0) return [];
      const { cls, deltas: d } = this.head_(this.pool(levels, prop.boxes));
      const probs = tf.softmax(cls).dataSync() as Float32Array;
      const dd = d.dataSync() as Float32Array;
      const rboxes: RotatedBox[] = [], scores: number[] = [], classes: number[] = [];
      const rb = new Float32Array(5);
      for (let r = 0; r < R; r++) {
        this.roiCoder.decode(prop.boxes, r, dd, 6 * r, rb, 0);
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
    } finally {
      tf.engine().endScope();
    }
  }
}
