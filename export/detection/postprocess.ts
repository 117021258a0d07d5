import type { OpBuilder } from '../onnx/index.ts';
import { rotatedNmsNode } from '../ops/rotated-nms.ts';
import { atan2, column, padRows, rowCount, rowCount1d, stableOrder, stackColumns, whereTrue } from './graph-helpers.ts';

/**
 * Box-head post-processing of one image, as RotatedRcnn.predict: oriented boxes decoded from the
 * axis-aligned proposals (RotatedBoxCoder, weights (10, 10, 5, 5)), boxes without area or with the
 * centre outside the valid image dropped, per class scores > threshold, com.emseg::RotatedNMS per
 * class, merged by score and cut to the detection limit, then zero-padded to that limit.
 */
export interface PostprocessOptions {
  classes: number;
  scoreThreshold: number;
  nmsThreshold: number;
  maxDetections: number;
}

/**
 * RotatedBoxCoder.decode for every row: float64 arithmetic on the float32 proposals and deltas
 * (as the reference's JS numbers), result rounded to float32 (the reference writes a Float32Array).
 * Returns rboxes float32 [R, 5] = [cx, cy, w, h, angleDeg], w >= h, angle in [-90, 90).
 */
export function emitRotatedDecode(b: OpBuilder, proposals: string, deltas: string): string {
  const f64 = (v: number): string => b.scalar('float64', v);
  const p = b.cast(proposals, 'float64');
  const d = b.cast(deltas, 'float64');
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => column(b, p, i));
  const [dx, dy, dw, dh, c, s] = [0, 1, 2, 3, 4, 5].map((i) => column(b, d, i));
  const pw = b.sub(x2, x1);
  const ph = b.sub(y2, y1);
  const px = b.add(x1, b.mul(f64(0.5), pw));
  const py = b.add(y1, b.mul(f64(0.5), ph));
  const scale = b.op('Sqrt', [b.mul(pw, ph)]);
  const clamp = f64(Math.log(1000 / 16));
  const w0 = b.mul(b.op('Exp', [b.min(b.div(dw, f64(5)), clamp)]), scale);
  const h0 = b.mul(b.op('Exp', [b.min(b.div(dh, f64(5)), clamp)]), scale);
  // (atan2(sin 2t, cos 2t) * 90) / pi: half the regressed angle, in degrees.
  const a0 = b.div(b.mul(atan2(b, s, c), f64(90)), f64(Math.PI));
  // Canonical w >= h: swap and turn by 90 degrees towards 0; then wrap +90 to -90.
  const swap = b.greater(h0, w0);
  const w = b.where(swap, h0, w0);
  const h = b.where(swap, w0, h0);
  const a1 = b.where(swap, b.where(b.greater(a0, f64(0)), b.sub(a0, f64(90)), b.add(a0, f64(90))), a0);
  const angle = b.where(b.greaterOrEqual(a1, f64(90)), b.sub(a1, f64(180)), a1);
  const cx = b.add(b.mul(b.div(dx, f64(10)), pw), px);
  const cy = b.add(b.mul(b.div(dy, f64(10)), ph), py);
  return b.cast(stackColumns(b, [cx, cy, w, h, angle]), 'float32');
}

/**
 * core/geometry/rotated-box.ts `rotatedBoxEnclosing` of float32 rboxes [n, 5], in float64 (as the
 * reference computes from the float32 rbox): [n, 4] float32 xyxy.
 */
export function emitEnclosingBoxes(b: OpBuilder, rboxes: string): string {
  const f64 = (v: number): string => b.scalar('float64', v);
  const r = b.cast(rboxes, 'float64');
  const [cx, cy, w, h, angle] = [0, 1, 2, 3, 4].map((i) => column(b, r, i));
  const t = b.mul(angle, f64(Math.PI / 180));
  const c = b.abs(b.cast(b.op('Cos', [b.cast(t, 'float32')]), 'float64'));
  const s = b.abs(b.cast(b.op('Sin', [b.cast(t, 'float32')]), 'float64'));
  const ex = b.div(b.add(b.mul(w, c), b.mul(h, s)), f64(2));
  const ey = b.div(b.add(b.mul(w, s), b.mul(h, c)), f64(2));
  return b.cast(stackColumns(b, [b.sub(cx, ex), b.sub(cy, ey), b.add(cx, ex), b.add(cy, ey)]), 'float32');
}

export interface Detections {
  /** float32 [maxDetections, 5], zero rows after `count`. */
  rboxes: string;
  /** float32 [maxDetections, 4]. */
  boxes: string;
  /** float32 [maxDetections]. */
  scores: string;
  /** int64 [maxDetections] (0-based class index). */
  labels: string;
  /** int64 scalar. */
  count: string;
}

/**
 * `probs` float32 [R, K + 1] (softmax, background last), `rboxes` float32 [R, 5] (decoded),
 * `validWidth`, `validHeight` float32 scalars (the unpadded image size).
 */
export function emitDetections(b: OpBuilder, probs: string, rboxes: string, validWidth: string, validHeight: string, o: PostprocessOptions): Detections {
  const zero = b.scalar('float32', 0);
  const [cx, cy, w, h] = [0, 1, 2, 3].map((i) => column(b, rboxes, i));
  // Keep unless !(w > 0 && h > 0) || cx < 0 || cy < 0 || cx > width || cy > height (NaN centres
  // pass, as in the reference).
  const outside = b.or(b.or(b.less(cx, zero), b.less(cy, zero)), b.or(b.greater(cx, validWidth), b.greater(cy, validHeight)));
  const valid = b.and(b.and(b.greater(w, zero), b.greater(h, zero)), b.not(outside));
  const threshold = b.scalar('float64', o.scoreThreshold); // compared in float64, as JS compares float32 scores with the number
  const iou = b.scalar('float32', o.nmsThreshold);
  const limit = b.scalar('int64', o.maxDetections);

  const rows: string[] = [];
  const scores: string[] = [];
  const labels: string[] = [];
  for (let k = 0; k < o.classes; k++) {
    const score = column(b, probs, k);
    const candidates = whereTrue(b, b.and(valid, b.greater(b.cast(score, 'float64'), threshold)));
    const classScores = b.gather(score, candidates, 0);
    const keep = b.fresh(`keep_class${k}`);
    b.nodes.push(rotatedNmsNode({ boxes: b.gather(rboxes, candidates, 0), scores: classScores, iouThreshold: iou, maxOutput: limit }, keep, b.fresh(`rotated_nms_class${k}`)));
    rows.push(b.gather(candidates, keep, 0));
    scores.push(b.gather(classScores, keep, 0));
    labels.push(b.filled(b.shape(keep), 'int64', k));
  }
  let row: string, score: string, label: string;
  if (o.classes === 1) {
    // One class: RotatedNMS already returns score order, ties by lower row (the reference's order).
    [row, score, label] = [rows[0], scores[0], labels[0]];
  } else {
    // batchedNmsRotated's merge: score descending, ties by the reference's candidate index, which
    // enumerates (row, class) row-major: key row * K + class.
    const allRows = b.concat(rows, 0);
    const allScores = b.concat(scores, 0);
    const allLabels = b.concat(labels, 0);
    const K = b.scalar('int64', o.classes);
    const order = stableOrder(b, allScores, b.add(b.mul(allRows, K), allLabels), b.mul(rowCount(b, probs), K));
    [row, score, label] = [b.gather(allRows, order, 0), b.gather(allScores, order, 0), b.gather(allLabels, order, 0)];
  }
  const n = b.min(rowCount1d(b, row), b.int64s([o.maxDetections], 'max_detections'));
  const first = (v: string): string => b.slice(v, 0, 0, n);
  row = first(row);
  const kept = b.gather(rboxes, row, 0);
  return {
    rboxes: padRows(b, kept, n, o.maxDetections, 2),
    boxes: padRows(b, emitEnclosingBoxes(b, kept), n, o.maxDetections, 2),
    scores: padRows(b, first(score), n, o.maxDetections, 1),
    labels: padRows(b, first(label), n, o.maxDetections, 1),
    count: b.squeeze(n, [0]),
  };
}

/** Rows of a [R, ...] value padded or cut to `rows` (debug outputs of a fixed shape per image). */
export function fixedRows(b: OpBuilder, x: string, rows: number, rank: number): string {
  const n = b.min(rowCount1d(b, x), b.int64s([rows], 'rows'));
  return padRows(b, b.slice(x, 0, 0, n), n, rows, rank);
}
