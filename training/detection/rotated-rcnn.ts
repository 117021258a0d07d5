import * as tf from '@tensorflow/tfjs';
import { batchedNmsRotated } from '../../core/nms/nms.ts';
import { rotatedBoxEnclosing } from '../../core/geometry/rotated-box.ts';
import type { RotatedBox } from '../../core/geometry/types.ts';
import { type NetParams, initParams, runNet } from '../net/run-tfjs.ts';
import type { NetSpec } from '../net/spec.ts';
import { RotatedBoxCoder } from './box-coder.ts';
import type { RotatedRcnnConfig } from './config.ts';
import { backboneSpec, boxHeadSpec } from './specs.ts';
import { TwoStageDetector } from './two-stage.ts';

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
export class RotatedRcnn extends TwoStageDetector<RotatedRcnnConfig> {
  readonly head: NetSpec;
  private readonly roiCoder = new RotatedBoxCoder();

  constructor(config: RotatedRcnnConfig, params: NetParams) {
    super(config, params, backboneSpec(config));
    this.head = boxHeadSpec(config);
  }

  static create(config: RotatedRcnnConfig, seed: number): RotatedRcnn {
    const backbone = initParams(backboneSpec(config), seed);
    const head = initParams(boxHeadSpec(config), seed + 1);
    return new RotatedRcnn(config, new Map([...backbone, ...head]));
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
    return { rpn_cls, rpn_loc, roi_cls: roiCls, roi_loc: roiLoc };
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
      for (let pass = 0; pass < (t.refine ?? 0); pass++) {
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
      for (let r = 0; r < R; r++) {
        this.roiCoder.decode(proposals, r, dd, 6 * r, rb, 0);
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
