import { cellAnchors } from '../../model/detection/anchors.ts';
import { type OpBuilder, attr } from '../../onnx/index.ts';
import { column, emitBoxCoderDecode, float32Below, rowCount1d, stackColumns, topK } from './graph-helpers.ts';

/**
 * RPN proposals of one image in ONNX, step for step as training/detection/proposals.ts
 * (`rpnProposals`, detectron2's find_top_rpn_proposals) and the anchors of anchors.ts:
 *
 *   per level: logits [1, A, H, W] -> [H * W * A] (location-major, then anchor, like tfjs NHWC);
 *     TopK(min(preNmsTopK, count)) (ties: lower index first, as the reference's stable sort);
 *     anchors of the selected indices only, computed from (index mod A, location mod W, location / W)
 *     and the stride: dynamic H and W, no per-size initializer;
 *     decode (BoxCoder weights 1, dw and dh clamped at log(1000/16)) in float64 from the float32
 *     anchors and deltas, rounded to float32, as the reference's JS numbers written to a
 *     Float32Array; clip to the (padded) image; drop empty boxes and non-finite logits (Compress);
 *     NonMaxSuppression (boxes [y1, x1, y2, x2], at most postNmsTopK);
 *   concatenate the levels, TopK(postNmsTopK) by logit.
 *
 * NMS threshold: tfjs's NonMaxSuppressionV3 (the wasm kernel and tfjs-core alike) drops a candidate
 * when IoU >= threshold, ONNX's when IoU > threshold. Both compute the IoU in float32 with the same
 * operations, so the ONNX node gets the largest float32 below the threshold: IoU > that <=> IoU >=
 * threshold, and the two agree at IoU == threshold too.
 */
export interface RpnGraphOptions {
  strides: readonly number[];
  anchorSizes: readonly number[];
  anchorRatios: readonly number[];
  preNmsTopK: number;
  postNmsTopK: number;
  nmsThreshold: number;
}

export interface RpnLevelInputs {
  /** Objectness logits [1, A, H, W]. */
  objectness: string;
  /** Deltas [1, 4A, H, W] (channel = anchor * 4 + coordinate). */
  deltas: string;
}

/** NCHW [1, C, H, W] -> [H * W * C / cols, cols] in tfjs's NHWC element order. */
function nhwcRows(b: OpBuilder, x: string, cols: number): string {
  return b.reshape(b.op('Transpose', [x], [attr.ints('perm', [0, 2, 3, 1])]), b.int64s(cols === 1 ? [-1] : [-1, cols], 'rows_shape'));
}

/**
 * Proposals of one image: `boxes` float32 [R, 4] (xyxy, pixels) and their objectness `logits`
 * float32 [R], best first. `width`, `height`: the padded image size (float32 scalars).
 */
export function emitRpnProposals(b: OpBuilder, levels: readonly RpnLevelInputs[], width: string, height: string, o: RpnGraphOptions): { boxes: string; logits: string } {
  const A = o.anchorRatios.length;
  const zero = b.scalar('float32', 0);
  const perLevelBoxes: string[] = [];
  const perLevelScores: string[] = [];
  levels.forEach((level, l) => {
    const logits = nhwcRows(b, level.objectness, 1);
    const deltas = nhwcRows(b, level.deltas, 4);
    const k = b.min(rowCount1d(b, logits), b.int64s([o.preNmsTopK], 'pre_nms_topk'));
    const [scores, index] = topK(b, logits, k, true, `rpn_top_l${l}`);

    // Anchors of the selected indices: index = (y * W + x) * A + a.
    const W = b.shape(level.objectness, 3, 4);
    const a = b.op('Mod', [index, b.scalar('int64', A)]);
    const location = b.div(index, b.scalar('int64', A));
    const x = b.op('Mod', [location, W]);
    const y = b.div(location, W);
    const stride = b.scalar('int64', o.strides[l]);
    const sx = b.cast(b.mul(x, stride), 'float64');
    const sy = b.cast(b.mul(y, stride), 'float64');
    const cells = b.constant('float64', [A, 4], cellAnchors(o.anchorSizes[l], o.anchorRatios).flat(), `cell_anchors_l${l}`);
    // cx + x1 in float64, stored as float32 (anchors.ts writes a Float32Array), read back as float64.
    const anchors = b.cast(b.cast(b.add(stackColumns(b, [sx, sy, sx, sy]), b.gather(cells, a, 0)), 'float32'), 'float64');

    // BoxCoder([1, 1, 1, 1]).decode in float64.
    const [bx1, by1, bx2, by2] = emitBoxCoderDecode(b, anchors, b.cast(b.gather(deltas, index, 0), 'float64'), [1, 1, 1, 1]);
    const clip = (v: string, limit: string): string => b.min(b.max(b.cast(v, 'float32'), zero), limit);
    const x1 = clip(bx1, width);
    const y1 = clip(by1, height);
    const x2 = clip(bx2, width);
    const y2 = clip(by2, height);
    const finite = b.not(b.or(b.op('IsInf', [scores]), b.op('IsNaN', [scores])));
    const keep = b.and(b.and(b.greater(x2, x1), b.greater(y2, y1)), finite);
    const compress = (v: string): string => b.op('Compress', [v, keep], [attr.int('axis', 0)]);
    const boxes = compress(stackColumns(b, [x1, y1, x2, y2]));
    const kept = compress(scores);

    const yxyx = b.gather(boxes, b.int64s([1, 0, 3, 2], 'yxyx'), 1);
    const selected = b.op('NonMaxSuppression', [
      b.unsqueeze(yxyx, [0]),
      b.unsqueeze(kept, [0, 1]),
      b.int64s([o.postNmsTopK], 'post_nms_topk'),
      b.constant('float32', [1], [float32Below(o.nmsThreshold)], 'rpn_iou'),
    ], [attr.int('center_point_box', 0)], `rpn_nms_l${l}`);
    const survivors = column(b, selected, 2);
    perLevelBoxes.push(b.gather(boxes, survivors, 0));
    perLevelScores.push(b.gather(kept, survivors, 0));
  });
  const allBoxes = b.concat(perLevelBoxes, 0);
  const allScores = b.concat(perLevelScores, 0);
  const k = b.min(rowCount1d(b, allScores), b.int64s([o.postNmsTopK], 'post_nms_topk'));
  const [logits, order] = topK(b, allScores, k, true, 'proposal');
  return { boxes: b.gather(allBoxes, order, 0), logits };
}
