import type { OpBuilder } from '../../onnx/index.ts';
import { rotatedNmsNode } from '../ops/rotated-nms.ts';
import { SCALE_CLAMP } from '../../model/detection/box-coder.ts';
import { atan2, column, padRows, rowCount1d, stackColumns, whereTrue } from './graph-helpers.ts';

/**
 * Box-head post-processing of one image, as RotatedRcnn.predict: oriented boxes decoded from the
 * axis-aligned proposals (RotatedBoxCoder, weights (10, 10, 5, 5)), boxes without area or with the
 * centre outside the valid image dropped, class scores > threshold, com.emseg::RotatedNMS per class
 * (one batched call), in score order and cut to the detection limit, then zero-padded to that limit.
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
 * RotatedRoiCoder.decode (training/detection/box-coder.ts, the second stage) for every row: 5 deltas
 * against rotated RoIs [R, 5], float64 arithmetic (Cos and Sin in float32, as onnxruntime has them),
 * canonical result float32 [R, 5] (w >= h, angle in [-90, 90)).
 */
export function emitRotatedRoiDecode(b: OpBuilder, rrois: string, deltas: string, weights: readonly [number, number, number, number, number]): string {
  const f64 = (v: number): string => b.scalar('float64', v);
  const r = b.cast(rrois, 'float64');
  const d = b.cast(deltas, 'float64');
  const [rx, ry, rw, rh, ra] = [0, 1, 2, 3, 4].map((i) => column(b, r, i));
  const [dx, dy, dw, dh, da] = [0, 1, 2, 3, 4].map((i) => column(b, d, i));
  const t = b.cast(b.mul(ra, f64(Math.PI / 180)), 'float32');
  const c = b.cast(b.op('Cos', [t]), 'float64');
  const s = b.cast(b.op('Sin', [t]), 'float64');
  const u = b.mul(b.div(dx, f64(weights[0])), rw);
  const v = b.mul(b.div(dy, f64(weights[1])), rh);
  const clamp = f64(SCALE_CLAMP);
  const w0 = b.mul(b.op('Exp', [b.min(b.div(dw, f64(weights[2])), clamp)]), rw);
  const h0 = b.mul(b.op('Exp', [b.min(b.div(dh, f64(weights[3])), clamp)]), rh);
  const a0 = b.add(ra, b.div(b.mul(b.div(da, f64(weights[4])), f64(180)), f64(Math.PI)));
  const swap = b.greater(h0, w0);
  const w = b.where(swap, h0, w0);
  const h = b.where(swap, w0, h0);
  const a1 = b.where(swap, b.add(a0, f64(90)), a0);
  const angle = b.sub(a1, b.mul(f64(180), b.op('Floor', [b.div(b.add(a1, f64(90)), f64(180))])));
  const cx = b.add(rx, b.add(b.mul(u, c), b.mul(v, s)));
  const cy = b.add(ry, b.sub(b.mul(v, c), b.mul(u, s)));
  return b.cast(stackColumns(b, [cx, cy, w, h, angle]), 'float32');
}

/** core/geometry/rotated-box.ts `rotatedBoxFromXYXY` of float32 boxes [n, 4]: [n, 5] float32. */
export function emitRotatedFromBoxes(b: OpBuilder, boxes: string): string {
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => column(b, boxes, i));
  const half = b.scalar('float32', 0.5);
  return stackColumns(b, [b.mul(b.add(x1, x2), half), b.mul(b.add(y1, y2), half), b.sub(x2, x1), b.sub(y2, y1), b.mul(x1, b.scalar('float32', 0))]);
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

/** Emits one batched NMS call: candidate geometry, scores and classes in, kept indices (int64 [k]) out. */
export type NmsEmitter = (b: OpBuilder, inputs: { boxes: string; scores: string; iouThreshold: string; maxOutput: string; classes: string }, keep: string, name: string) => void;

export const rotatedNmsEmitter: NmsEmitter = (b, inputs, keep, name) => {
  b.nodes.push(rotatedNmsNode(inputs, keep, name));
};

/** Kept detections of one image before padding: rows into the head's outputs, scores, labels, n. */
export interface KeptRows {
  row: string;
  score: string;
  label: string;
  /** int64 [1]: number kept (<= maxDetections). */
  n: string;
}

/**
 * The reference's batched NMS in one call: candidates are the (row, class) pairs, enumerated
 * row-major as the reference does, whose row is `valid` and whose class score is > threshold; the
 * NMS op with their classes (boxes of different classes never suppress each other) keeps them in
 * the order of the reference's merge (score descending, lower candidate index first); the first
 * maxDetections are the detections. One call instead of one per class and a merge sort: fewer ops,
 * and onnxruntime-web's WebGPU provider (1.30) computed that merge wrongly.
 */
export function emitBatchedNms(b: OpBuilder, probs: string, geometry: string, valid: string, o: PostprocessOptions, nms: NmsEmitter): KeptRows {
  const K = o.classes;
  // Class scores [R, K] (background column dropped), flattened row-major: index = row * K + class.
  const classScores = b.slice(probs, 1, 0, K);
  const flat = b.reshape(classScores, b.int64s([-1], 'flat'));
  const threshold = b.scalar('float64', o.scoreThreshold); // compared in float64, as JS compares float32 scores with the number
  const validFlat = b.reshape(b.op('Expand', [b.unsqueeze(valid, [1]), b.shape(classScores)]), b.int64s([-1], 'flat'));
  const candidates = whereTrue(b, b.and(validFlat, b.greater(b.cast(flat, 'float64'), threshold)));
  const kInt = b.scalar('int64', K);
  const rows = b.div(candidates, kInt);
  const labels = b.op('Mod', [candidates, kInt]);
  const scores = b.gather(flat, candidates, 0);
  const keep = b.fresh('keep');
  nms(b, { boxes: b.gather(geometry, rows, 0), scores, iouThreshold: b.scalar('float32', o.nmsThreshold), maxOutput: b.scalar('int64', o.maxDetections), classes: labels }, keep, b.fresh('batched_nms'));
  const n = rowCount1d(b, keep); // the op keeps at most maxDetections
  return { row: b.gather(rows, keep, 0), score: b.gather(scores, keep, 0), label: b.gather(labels, keep, 0), n };
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
  const { row, score, label, n } = emitBatchedNms(b, probs, rboxes, valid, o, rotatedNmsEmitter);
  const kept = b.gather(rboxes, row, 0);
  return {
    rboxes: padRows(b, kept, n, o.maxDetections, 2),
    boxes: padRows(b, emitEnclosingBoxes(b, kept), n, o.maxDetections, 2),
    scores: padRows(b, score, n, o.maxDetections, 1),
    labels: padRows(b, label, n, o.maxDetections, 1),
    count: b.squeeze(n, [0]),
  };
}

/** Rows of a [R, ...] value padded or cut to `rows` (debug outputs of a fixed shape per image). */
export function fixedRows(b: OpBuilder, x: string, rows: number, rank: number): string {
  const n = b.min(rowCount1d(b, x), b.int64s([rows], 'rows'));
  return padRows(b, b.slice(x, 0, 0, n), n, rows, rank);
}
