import { type OpBuilder, attr } from '../../onnx/index.ts';
import { SCALE_CLAMP } from '../../model/detection/box-coder.ts';

/** Small graph idioms shared by the detector's proposal, pooling and post-processing stages. */

/** Column `k` of a 2-D value: [n, m] -> [n]. */
export function column(b: OpBuilder, x: string, k: number): string {
  return b.gather(x, b.scalar('int64', k), 1);
}

/** Columns [n] each -> [n, m]. */
export function stackColumns(b: OpBuilder, columns: readonly string[]): string {
  return b.concat(columns.map((c) => b.unsqueeze(c, [1])), 1);
}

/** Indices (int64 [n]) where a 1-D bool value is true, ascending. */
export function whereTrue(b: OpBuilder, mask: string): string {
  return b.reshape(b.op('NonZero', [mask]), b.int64s([-1], 'flat'));
}

/** Number of rows of a value, as a scalar int64. */
export function rowCount(b: OpBuilder, x: string): string {
  return b.squeeze(b.shape(x, 0, 1), [0]);
}

/** Number of rows as an int64 [1] (the form TopK's k and Slice bounds take). */
export function rowCount1d(b: OpBuilder, x: string): string {
  return b.shape(x, 0, 1);
}

/** TopK along axis 0; `k` is an int64 [1]. Returns [values, indices]. */
export function topK(b: OpBuilder, x: string, k: string, largest = true, hint = 'topk'): [string, string] {
  const [values, indices] = b.opN('TopK', [x, k], {
    attributes: [attr.int('axis', 0), attr.int('largest', largest ? 1 : 0), attr.int('sorted', 1)],
    outputs: 2,
    hint,
  });
  return [values, indices];
}

/**
 * atan2(y, x) for float64 values, as Math.atan2 away from signed zeros. ONNX has no Atan2, and
 * onnxruntime's Atan is float32 only: the quotient is computed in float64 and rounded once to
 * float32 for Atan (error ~1e-7 rad, ~6e-6 degrees), the quadrant is chosen exactly:
 *   x > 0: atan(y/x);  x < 0: atan(y/x) + pi (y >= 0) or - pi (y < 0);
 *   x = 0: pi/2 (y > 0), -pi/2 (y < 0), 0 (y = 0).
 * The quotient always takes the form |small| / |large| (|q| <= 1) so Atan never sees an infinity:
 * for |y| > |x|, atan(y/x) = sign(y/x) * pi/2 - atan(x/y).
 */
export function atan2(b: OpBuilder, y: string, x: string): string {
  const f = (v: number): string => b.scalar('float64', v);
  const zero = f(0);
  const ax = b.abs(x);
  const ay = b.abs(y);
  const steep = b.greater(ay, ax); // |y| > |x| (so y != 0)
  const num = b.where(steep, x, y);
  const den = b.where(steep, y, b.where(b.equal(x, zero), f(1), x));
  const q = b.div(num, den);
  const atanQ = b.cast(b.op('Atan', [b.cast(q, 'float32')]), 'float64');
  // Principal value of atan(y / x) in (-pi/2, pi/2); x = 0 (with y != 0) is steep, q = 0: +-pi/2.
  const signYX = b.where(b.less(b.mul(y, b.where(b.equal(x, zero), f(1), x)), zero), f(-1), f(1));
  const principal = b.where(steep, b.sub(b.mul(signYX, f(Math.PI / 2)), atanQ), atanQ);
  const shift = b.where(b.less(x, zero), b.where(b.less(y, zero), f(-Math.PI), f(Math.PI)), zero);
  const xZero = b.equal(x, zero);
  const onAxis = b.where(b.greater(y, zero), f(Math.PI / 2), b.where(b.less(y, zero), f(-Math.PI / 2), zero));
  return b.where(xZero, onAxis, b.add(principal, shift));
}

/** The largest float32 strictly below float32(v) (v > 0, finite): for float32 t, t > it <=> t >= v. */
export function float32Below(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  if (f[0] > 0) u[0] -= 1;
  else if (f[0] === 0) return -Number.MIN_VALUE;
  else u[0] += 1;
  return f[0];
}

/** Rows 0..n-1 of `x` padded with zeros to `rows` rows; `n` an int64 [1] with n <= rows. */
export function padRows(b: OpBuilder, x: string, n: string, rows: number, rank: number): string {
  const missing = b.sub(b.int64s([rows], 'rows'), n);
  const zeros = (count: number): string[] => (count > 0 ? [b.int64s(new Array<number>(count).fill(0), 'zeros')] : []);
  // Pad's pads: all begins, then all ends; only the end of axis 0 grows.
  const pads = b.concat([...zeros(rank), missing, ...zeros(rank - 1)], 0);
  return b.op('Pad', [x, pads], [attr.string('mode', 'constant')]);
}

/**
 * training/detection/box-coder.ts `BoxCoder.decode` for every row, in float64 (the reference's JS
 * numbers): `refs` and `deltas` float64 [R, 4], deltas divided by `weights` (a division by 1 is
 * exact), dw and dh clamped at log(1000 / 16). Returns the float64 columns x1, y1, x2, y2.
 */
export function emitBoxCoderDecode(b: OpBuilder, refs: string, deltas: string, weights: readonly [number, number, number, number]): [string, string, string, string] {
  const f64 = (v: number): string => b.scalar('float64', v);
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => column(b, refs, i));
  const [dx, dy, dw, dh] = [0, 1, 2, 3].map((i) => b.div(column(b, deltas, i), f64(weights[i])));
  const pw = b.sub(x2, x1);
  const ph = b.sub(y2, y1);
  const px = b.add(x1, b.mul(f64(0.5), pw));
  const py = b.add(y1, b.mul(f64(0.5), ph));
  const clamp = f64(SCALE_CLAMP);
  const cx = b.add(b.mul(dx, pw), px);
  const cy = b.add(b.mul(dy, ph), py);
  const halfW = b.div(b.mul(b.op('Exp', [b.min(dw, clamp)]), pw), f64(2));
  const halfH = b.div(b.mul(b.op('Exp', [b.min(dh, clamp)]), ph), f64(2));
  return [b.sub(cx, halfW), b.sub(cy, halfH), b.add(cx, halfW), b.add(cy, halfH)];
}
