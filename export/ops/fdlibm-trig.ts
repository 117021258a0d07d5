import type { OpBuilder } from '../../onnx/index.ts';

/**
 * sin and cos in ONNX ops that equal V8's `Math.sin` / `Math.cos` bit for bit.
 *
 * Why not ONNX `Sin`/`Cos`: the reference NMS (core/nms) computes box corners with Math.cos/sin, and
 * the exported op must reproduce it exactly. onnxruntime-node's double Cos (Eigen's vectorised
 * polynomial) differs from Math.cos in the last bit for ~70% of angles, onnxruntime-web's for ~1%;
 * an ulp in a corner is harmless on its own, but it decides which side of a clip line a nearly
 * touching vertex falls (equivalent parameterisations, shared edges) and so whether an IoU lands
 * above or below a threshold it equals. V8 (Node 20, V8 11.3) computes sin/cos with fdlibm
 * (src/base/ieee754.cc): this is a branch-free transcription of fdlibm's `__ieee754_rem_pio2`
 * (small, |x| < 3pi/4 and "medium" cases), `__kernel_sin` and `__kernel_cos`, in double precision
 * with the same operation order, every branch evaluated and chosen with `Where`. Bit tests on the
 * high word become comparisons with the doubles those words bound.
 *
 * Exact for |x| <= 2^19 * pi/2 (|angle| < 47 million degrees); beyond that fdlibm's Payne-Hanek
 * reduction is not transcribed and ONNX `Sin`/`Cos` are used. A V8 that switches to another libm
 * (newer V8 can use glibc-derived sin/cos) may differ from this in the last bit.
 */

const words = new DataView(new ArrayBuffer(8));
/** The double whose high 32-bit word is `high` and low word `low` (fdlibm's INSERT_WORDS). */
function fromWords(high: number, low: number): number {
  words.setUint32(0, high >>> 0);
  words.setUint32(4, low >>> 0);
  return words.getFloat64(0);
}
/** Smallest double whose high word exceeds `high`: `hi(|x|) <= high` is `|x| < highWordBound(high)`. */
function highWordBound(high: number): number {
  return fromWords(high + 1, 0);
}

const INVPIO2 = 6.36619772367581382433e-01;
const PIO2_1 = 1.57079632673412561417e+00;
const PIO2_1T = 6.07710050650619224932e-11;
const PIO2_2 = 6.07710050630396597660e-11;
const PIO2_2T = 2.02226624879595063154e-21;
const PIO2_3 = 2.02226624871116645580e-21;
const PIO2_3T = 8.47842766036889956997e-32;
/** High words of n*pi/2, n = 1..32: fdlibm redoes the reduction more precisely next to them. */
const NPIO2_HW = [
  0x3ff921fb, 0x400921fb, 0x4012d97c, 0x401921fb, 0x401f6a7a, 0x4022d97c, 0x4025fdbb, 0x402921fb,
  0x402c463a, 0x402f6a7a, 0x4031475c, 0x4032d97c, 0x40346b9c, 0x4035fdbb, 0x40378fdb, 0x403921fb,
  0x403ab41b, 0x403c463a, 0x403dd85a, 0x403f6a7a, 0x40407e4c, 0x4041475c, 0x4042106c, 0x4042d97c,
  0x4043a28c, 0x40446b9c, 0x404534ac, 0x4045fdbb, 0x4046c6cb, 0x40478fdb, 0x404858eb, 0x404921fb,
];
const C = [
  4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
  -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11,
];
const S = [
  -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
  2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10,
];

/** Where over a chain of (condition, value) pairs, first match wins. */
function select(b: OpBuilder, cases: readonly [string, string][], otherwise: string): string {
  let out = otherwise;
  for (let i = cases.length - 1; i >= 0; i--) out = b.where(cases[i][0], cases[i][1], out);
  return out;
}

/** Horner evaluation `c0 + z*(c1 + z*(... + z*cN))`, fdlibm's operation order. */
function horner(b: OpBuilder, z: string, coefficients: readonly number[]): string {
  let acc = b.scalar('float64', coefficients[coefficients.length - 1]);
  for (let i = coefficients.length - 2; i >= 0; i--) acc = b.add(b.scalar('float64', coefficients[i]), b.mul(z, acc));
  return acc;
}

/** fdlibm `__kernel_cos(x, y)` for |x| <= ~pi/4 (x + y the reduced argument). */
function kernelCos(b: OpBuilder, x: string, y: string): string {
  const f = (v: number): string => b.scalar('float64', v);
  const ax = b.abs(x);
  const z = b.mul(x, x);
  const r = b.mul(z, horner(b, z, C));
  const zrMinusXy = b.sub(b.mul(z, r), b.mul(x, y));
  const halfZ = b.mul(f(0.5), z);
  const nearZero = b.sub(f(1), b.sub(halfZ, zrMinusXy)); // |x| < 0.3
  // qx: x/4 with the low word cleared (INSERT_WORDS(qx, ix - 0x00200000, 0)), i.e. |x|/4 cut to 20
  // mantissa bits. Here |x| is in [0.3, 0.78125], so |x|/4 has binary exponent -4 or -3.
  const quarter = b.mul(ax, f(0.25));
  const scale = b.where(b.less(quarter, f(0.125)), f(2 ** 24), f(2 ** 23));
  const cut = b.div(b.op('Floor', [b.mul(quarter, scale)]), scale);
  const qx = b.where(b.greaterOrEqual(ax, f(highWordBound(0x3fe90000))), f(0.28125), cut);
  const iz = b.sub(halfZ, qx);
  const a = b.sub(f(1), qx);
  const general = b.sub(a, b.sub(iz, zrMinusXy));
  return select(b, [
    [b.less(ax, f(fromWords(0x3e400000, 0))), f(1)],
    [b.less(ax, f(fromWords(0x3fd33333, 0))), nearZero],
  ], general);
}

/** fdlibm `__kernel_sin(x, y, iy)`; returns both the iy = 0 (y is 0) and iy = 1 forms. */
function kernelSin(b: OpBuilder, x: string, y: string): { iy0: string; iy1: string } {
  const f = (v: number): string => b.scalar('float64', v);
  const tiny = b.less(b.abs(x), f(fromWords(0x3e400000, 0)));
  const z = b.mul(x, x);
  const v = b.mul(z, x);
  const r = horner(b, z, S.slice(1));
  const s1 = f(S[0]);
  const iy0 = b.add(x, b.mul(v, b.add(s1, b.mul(z, r))));
  const inner = b.sub(b.mul(z, b.sub(b.mul(f(0.5), y), b.mul(v, r))), y);
  const iy1 = b.sub(x, b.sub(inner, b.mul(v, s1)));
  return { iy0: b.where(tiny, x, iy0), iy1: b.where(tiny, x, iy1) };
}

/**
 * One step of fdlibm's "medium" reduction refinement: with `t` the previous remainder, subtract
 * `fn * pio2` and carry the rounding error into `w`.
 */
function refine(b: OpBuilder, t: string, fn: string, pio2: number, pio2t: number): { r: string; w: string } {
  const wa = b.mul(fn, b.scalar('float64', pio2));
  const r = b.sub(t, wa);
  const w = b.sub(b.mul(fn, b.scalar('float64', pio2t)), b.sub(b.sub(t, r), wa));
  return { r, w };
}

/** `{sin, cos}` of `x` (a 1-D float64 tensor), equal to Math.sin / Math.cos (fdlibm). */
export function emitSinCos(b: OpBuilder, x: string): { sin: string; cos: string } {
  const f = (v: number): string => b.scalar('float64', v);
  const ax = b.abs(x);
  const negative = b.less(x, f(0));
  const small = b.less(ax, f(highWordBound(0x3fe921fb))); // |x| ~<= pi/4: no reduction
  const belowThreeQuarterPi = b.less(ax, f(fromWords(0x4002d97c, 0)));
  const medium = b.less(ax, f(highWordBound(0x413921fb)));
  // The reduction is done on |x| and the sign applied afterwards: fdlibm's negative branches are
  // the exact negations of its positive ones (round-to-nearest is symmetric).

  // |x| < 3pi/4: n = 1, with a third pi/2 word next to pi/2 itself.
  const nearPio2 = b.and(b.greaterOrEqual(ax, f(fromWords(0x3ff921fb, 0))), b.less(ax, f(highWordBound(0x3ff921fb))));
  const z1 = b.sub(ax, f(PIO2_1));
  const aY0 = b.sub(z1, f(PIO2_1T));
  const aY1 = b.sub(b.sub(z1, aY0), f(PIO2_1T));
  const z2 = b.sub(z1, f(PIO2_2));
  const bY0 = b.sub(z2, f(PIO2_2T));
  const bY1 = b.sub(b.sub(z2, bY0), f(PIO2_2T));
  const threeQuarterY0 = b.where(nearPio2, bY0, aY0);
  const threeQuarterY1 = b.where(nearPio2, bY1, aY1);

  // Medium: n = round(|x| * 2/pi), remainder refined up to twice when cancellation is large.
  const fn = b.op('Floor', [b.add(b.mul(ax, f(INVPIO2)), f(0.5))]);
  const r1 = b.sub(ax, b.mul(fn, f(PIO2_1)));
  const w1 = b.mul(fn, f(PIO2_1T));
  const y01 = b.sub(r1, w1);
  // Quick path: n < 32 and hi(|x|) is not the high word of n*pi/2.
  const nIndex = b.cast(b.max(b.min(b.sub(fn, f(1)), f(31)), f(0)), 'int64');
  const hwLow = b.gather(b.constant('float64', [32], NPIO2_HW.map((h) => fromWords(h, 0)), 'npio2_lo'), nIndex);
  const hwHigh = b.gather(b.constant('float64', [32], NPIO2_HW.map(highWordBound), 'npio2_hi'), nIndex);
  const onHighWord = b.and(b.greaterOrEqual(ax, hwLow), b.less(ax, hwHigh));
  const quick = b.and(b.less(fn, f(32)), b.not(onHighWord));
  // fdlibm compares exponent fields: expo(x) - expo(y0) > 16 is |y0| < 2^(E - 16) with E the binary
  // exponent of |x| (2 <= |x| < 2^20 here, so E = number of powers 2^1..2^20 at or below |x|).
  // Axis 1, not -1: onnxruntime 1.30 skips a reduction over a negative axis of an empty tensor.
  const powers = Array.from({ length: 20 }, (_, k) => 2 ** (k + 1));
  const exponent = b.reduceSum(
    b.cast(b.greaterOrEqual(b.unsqueeze(ax, [1]), b.constant('float64', [1, 20], powers, 'pow2')), 'int64'),
    [1],
    false,
  );
  const pow2 = (offset: number, hint: string): string =>
    b.gather(b.constant('float64', [21], Array.from({ length: 21 }, (_, e) => 2 ** (e - offset)), hint), exponent);
  const second = refine(b, r1, fn, PIO2_2, PIO2_2T);
  const y02 = b.sub(second.r, second.w);
  const third = refine(b, second.r, fn, PIO2_3, PIO2_3T);
  const y03 = b.sub(third.r, third.w);
  const need2 = b.and(b.not(quick), b.less(b.abs(y01), pow2(16, 'pow2_m16')));
  const need3 = b.and(need2, b.less(b.abs(y02), pow2(49, 'pow2_m49')));
  const r = select(b, [[need3, third.r], [need2, second.r]], r1);
  const w = select(b, [[need3, third.w], [need2, second.w]], w1);
  const mediumY0 = select(b, [[need3, y03], [need2, y02]], y01);
  const mediumY1 = b.sub(b.sub(r, mediumY0), w);

  const reducedY0 = select(b, [[belowThreeQuarterPi, threeQuarterY0]], mediumY0);
  const reducedY1 = select(b, [[belowThreeQuarterPi, threeQuarterY1]], mediumY1);
  const reducedN = b.where(belowThreeQuarterPi, f(1), fn);
  const y0 = b.where(small, x, b.where(negative, b.neg(reducedY0), reducedY0));
  const y1 = b.where(small, f(0), b.where(negative, b.neg(reducedY1), reducedY1));
  const n = b.where(small, f(0), b.where(negative, b.neg(reducedN), reducedN));
  // n & 3 for the quadrant (n is an exact small integer in double).
  const quadrant = b.sub(n, b.mul(f(4), b.op('Floor', [b.div(n, f(4))])));
  const q = (k: number): string => b.equal(quadrant, f(k));

  const kc = kernelCos(b, y0, y1);
  const ks = kernelSin(b, y0, y1);
  const sinQ0 = b.where(small, ks.iy0, ks.iy1);
  const fdlibmCos = select(b, [[q(0), kc], [q(1), b.neg(ks.iy1)], [q(2), b.neg(kc)]], ks.iy1);
  const fdlibmSin = select(b, [[q(0), sinQ0], [q(1), kc], [q(2), b.neg(ks.iy1)]], b.neg(kc));
  const inRange = b.or(small, medium);
  return {
    sin: b.where(inRange, fdlibmSin, b.op('Sin', [x])),
    cos: b.where(inRange, fdlibmCos, b.op('Cos', [x])),
  };
}
