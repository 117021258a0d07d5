import type { OpBuilder } from '../../onnx/index.ts';
import { boxNmsNode } from '../ops/box-nms.ts';
import { column, emitBoxCoderDecode, padRows, stackColumns } from './graph-helpers.ts';
import { type NmsEmitter, type PostprocessOptions, emitBatchedNms } from './postprocess.ts';

/**
 * Mask R-CNN's box post-processing of one image, as MaskRcnn.predict: axis-aligned boxes decoded
 * from the proposals (BoxCoder (10, 10, 5, 5)), clipped to the valid image, boxes not wider and
 * taller than one pixel dropped, class scores > threshold, com.emseg::BoxNMS per class (one batched
 * call, exactly core/nms `batchedNms`), in score order and cut to the detection limit.
 */

const boxNmsEmitter: NmsEmitter = (b, inputs, keep, name) => {
  b.nodes.push(boxNmsNode(inputs, keep, name));
};

/**
 * BoxCoder.decode with weights (10, 10, 5, 5) for every row, in float64 from the float32 proposals
 * and deltas (the reference's JS numbers), rounded to float32 (it writes a Float32Array), then
 * clipped to [0, width] x [0, height] as the reference does. float32 [R, 4].
 */
export function emitBoxDecode(b: OpBuilder, proposals: string, deltas: string, validWidth: string, validHeight: string): string {
  const decoded = b.cast(stackColumns(b, emitBoxCoderDecode(b, b.cast(proposals, 'float64'), b.cast(deltas, 'float64'), [10, 10, 5, 5])), 'float32');
  const [bx1, by1, bx2, by2] = [0, 1, 2, 3].map((i) => column(b, decoded, i));
  const zero = b.scalar('float32', 0);
  return stackColumns(b, [b.max(bx1, zero), b.max(by1, zero), b.min(bx2, validWidth), b.min(by2, validHeight)]);
}

export interface MaskDetections {
  /** float32 [maxDetections, 4], zero rows after `count`. */
  boxes: string;
  scores: string;
  labels: string;
  /** int64 scalar. */
  count: string;
  /** Kept boxes before padding, float32 [n, 4] (for the mask head), and the kept labels [n]. */
  kept: string;
  keptLabels: string;
  /** int64 [1]. */
  n: string;
}

/** `probs` float32 [R, K + 1] (background last), `boxes` decoded and clipped float32 [R, 4]. */
export function emitMaskDetections(b: OpBuilder, probs: string, boxes: string, o: PostprocessOptions): MaskDetections {
  const d = b.cast(boxes, 'float64');
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => column(b, d, i));
  const one = b.scalar('float64', 1);
  // The reference keeps a box when x2 - x1 > 1 and y2 - y1 > 1 (differences of float32 values in float64).
  const valid = b.and(b.greater(b.sub(x2, x1), one), b.greater(b.sub(y2, y1), one));
  const { row, score, label, n } = emitBatchedNms(b, probs, boxes, valid, o, boxNmsEmitter);
  const kept = b.gather(boxes, row, 0);
  return {
    boxes: padRows(b, kept, n, o.maxDetections, 2),
    scores: padRows(b, score, n, o.maxDetections, 1),
    labels: padRows(b, label, n, o.maxDetections, 1),
    count: b.squeeze(n, [0]),
    kept,
    keptLabels: label,
    n,
  };
}

/**
 * The mask of each kept detection's own class: `logits` float32 [n, K, M, M] (the mask head's
 * output), `labels` int64 [n] -> sigmoid probabilities [n, M, M] (MaskRcnn.predict's map before
 * pasting), padded with zeros to [maxDetections, M, M].
 */
export function emitClassMasks(b: OpBuilder, logits: string, labels: string, n: string, classes: number, resolution: number, maxDetections: number): string {
  const flat = b.reshape(logits, b.int64s([-1, resolution, resolution], 'mask_shape'));
  const rows = b.add(b.mul(b.range(b.squeeze(n, [0])), b.scalar('int64', classes)), labels);
  const probs = b.op('Sigmoid', [b.gather(flat, rows, 0)]);
  return padRows(b, probs, n, maxDetections, 3);
}
