import * as tf from '@tensorflow/tfjs';
import { type NetParams, runNet } from '../net/run-tfjs.ts';
import type { NetSpec } from '../../model/net/spec.ts';
import type { TwoStageConfig } from '../../model/detection/config.ts';
import { generateAnchors } from '../../model/detection/anchors.ts';
import { BoxCoder } from '../../model/detection/box-coder.ts';
import { matchBoxes, pairwiseIoU, sampleMatches } from './matcher.ts';
import { rpnProposals } from './proposals.ts';
import { fpnLevels, roiAlign } from './roi-align.ts';
import { FPN_LEVELS, FPN_STRIDES } from '../../model/detection/specs.ts';

/** Sampled RoIs of one training image: boxes (xyxy), matched GT per RoI (-1 for background). */
export interface SampledRois {
  boxes: Float32Array;
  matched: Int32Array;
  positives: number;
}

/**
 * The parts shared by emseg's two-stage detectors (detectron2's GeneralizedRCNN split the same way):
 * backbone + FPN + RPN (axis-aligned anchors, losses, proposals) and RoI sampling/pooling. Subclasses
 * add their RoI heads: `RotatedRcnn` (oriented boxes) and `MaskRcnn` (boxes + masks).
 */
export abstract class TwoStageDetector<C extends TwoStageConfig> {
  private anchorCache = new Map<string, { anchors: Float32Array; perLevel: number[] }>();
  protected readonly rpnCoder = new BoxCoder([1, 1, 1, 1]);

  constructor(
    readonly config: C,
    readonly params: NetParams,
    readonly backbone: NetSpec,
  ) {}

  anchors(height: number, width: number): { anchors: Float32Array; perLevel: number[] } {
    const key = `${height}x${width}`;
    let a = this.anchorCache.get(key);
    if (!a) {
      a = generateAnchors(FPN_STRIDES.map((stride, i) => ({ stride, size: this.config.anchorSizes[i], height: height / stride, width: width / stride })), this.config.anchorRatios);
      this.anchorCache.set(key, a);
    }
    return a;
  }

  /** Backbone + RPN outputs; per level features, logits [A_l] and deltas [A_l, 4]. */
  protected features(image: tf.Tensor4D) {
    const out = runNet(this.backbone, this.params, { image });
    const levels = FPN_LEVELS.map((l) => out[l]);
    const logits = FPN_LEVELS.map((_, i) => tf.reshape(out[`rpn.objectness.l${i}`], [-1]));
    const deltas = FPN_LEVELS.map((_, i) => tf.reshape(out[`rpn.deltas.l${i}`], [-1, 4]));
    return { levels, logits, deltas };
  }

  protected proposals(logits: tf.Tensor[], deltas: tf.Tensor[], height: number, width: number, train: boolean) {
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
  protected pool(levels: tf.Tensor4D[], boxes: Float32Array, outputSize: number): tf.Tensor4D {
    return poolByLevel(levels, boxes, 4, fpnLevels(boxes, 2, 5), (feature, sub, l) =>
      roiAlign(feature, sub, { outputSize, samplingRatio: this.config.roi.samplingRatio, spatialScale: 1 / FPN_STRIDES[l] }));
  }

  /** Run `fn` in a tfjs scope that frees every intermediate on exit (tf.tidy only returns tensors). */
  protected withScope<T>(fn: () => T): T {
    tf.engine().startScope();
    try {
      return fn();
    } finally {
      tf.engine().endScope();
    }
  }

  /**
   * Inference up to the box head (call inside `withScope`): test-time proposals, pooled and scored by
   * `head`; class probabilities (softmax) and deltas read back. Null when there is no proposal.
   */
  protected scoreProposals(image: tf.Tensor4D, head: (pooled: tf.Tensor4D) => { cls: tf.Tensor2D; deltas: tf.Tensor2D }) {
    const [, H, W] = image.shape;
    const { levels, logits, deltas } = this.features(image);
    const prop = this.proposals(logits, deltas, H, W, false);
    if (prop.boxes.length === 0) return null;
    const { cls, deltas: d } = head(this.pool(levels, prop.boxes, this.config.roi.poolSize));
    return { levels, boxes: prop.boxes, probs: tf.softmax(cls).dataSync() as Float32Array, deltas: d.dataSync() as Float32Array };
  }

  /** RPN losses (sigmoid CE on sampled anchors, L1 on positive deltas), detectron2-style. */
  protected rpnLosses(logits: tf.Tensor[], deltas: tf.Tensor[], gtBoxes: Float32Array, height: number, width: number, seed: number): { rpn_cls: tf.Scalar; rpn_loc: tf.Scalar } {
    const G = gtBoxes.length / 4;
    const { anchors } = this.anchors(height, width);
    const A = anchors.length / 4;
    const match = matchBoxes(pairwiseIoU(gtBoxes, anchors), G, A, this.config.rpn.iouThresholds[0], this.config.rpn.iouThresholds[1], true);
    const { positives, negatives } = sampleMatches(match, this.config.rpn.batchPerImage, this.config.rpn.positiveFraction, seed);
    const sampled = [...positives, ...negatives];
    const allLogits = tf.concat(logits, 0);
    const allDeltas = tf.concat(deltas, 0);
    const labels = tf.tensor1d(sampled.map((_, i) => (i < positives.length ? 1 : 0)));
    const rpnCls = tf.losses.sigmoidCrossEntropy(labels, tf.gather(allLogits, tf.tensor1d(sampled, 'int32')), undefined, undefined, tf.Reduction.MEAN) as tf.Scalar;
    let rpnLoc: tf.Scalar = tf.scalar(0);
    if (positives.length > 0) {
      const t = new Float32Array(positives.length * 4);
      positives.forEach((a, j) => this.rpnCoder.encode(anchors, a, gtBoxes, match[a], t, 4 * j));
      rpnLoc = tf.div(tf.sum(tf.abs(tf.sub(tf.gather(allDeltas, tf.tensor1d(positives, 'int32')), tf.tensor2d(t, [positives.length, 4])))), Math.max(sampled.length, 1)) as tf.Scalar;
    }
    return { rpn_cls: rpnCls, rpn_loc: rpnLoc };
  }

  /** Training proposals plus the GT boxes, matched and sampled for the RoI heads (positives first). */
  protected sampleRois(logits: tf.Tensor[], deltas: tf.Tensor[], gtBoxes: Float32Array, height: number, width: number, seed: number): SampledRois {
    const G = gtBoxes.length / 4;
    const prop = this.proposals(logits, deltas, height, width, true);
    const P = prop.boxes.length / 4 + G;
    const boxes = new Float32Array(P * 4);
    boxes.set(prop.boxes);
    boxes.set(gtBoxes, prop.boxes.length);
    const match = matchBoxes(pairwiseIoU(gtBoxes, boxes), G, P, this.config.roi.iouThreshold, this.config.roi.iouThreshold, false);
    const s = sampleMatches(match, this.config.roi.batchPerImage, this.config.roi.positiveFraction, seed + 1);
    const rois = [...s.positives, ...s.negatives];
    const out = new Float32Array(rois.length * 4);
    rois.forEach((i, j) => out.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j));
    return { boxes: out, matched: Int32Array.from(rois, (i) => match[i]), positives: s.positives.length };
  }
}

/**
 * Pool each box (`width` numbers per box) on its FPN level (`level`: 2..5 per box) with `poolOne`
 * (feature map, that level's boxes, level index 0..3), rows back in the order of `boxes`.
 */
export function poolByLevel(levels: tf.Tensor4D[], boxes: Float32Array, width: number, level: Int32Array, poolOne: (feature: tf.Tensor4D, boxes: Float32Array, l: number) => tf.Tensor4D): tf.Tensor4D {
  const R = boxes.length / width;
  const parts: tf.Tensor4D[] = [];
  const order: number[] = [];
  for (let l = 0; l < 4; l++) {
    const idx: number[] = [];
    for (let i = 0; i < R; i++) if (level[i] === l + 2) idx.push(i);
    if (idx.length === 0) continue;
    const sub = new Float32Array(idx.length * width);
    idx.forEach((i, j) => sub.set(boxes.subarray(width * i, width * i + width), width * j));
    parts.push(poolOne(levels[l], sub, l));
    order.push(...idx);
  }
  const pooled = tf.concat(parts, 0);
  const inverse = new Int32Array(R);
  order.forEach((orig, pos) => (inverse[orig] = pos));
  return tf.gather(pooled, tf.tensor1d(inverse, 'int32')) as tf.Tensor4D;
}
