/**
 * Activation ranges for static int8 quantization, from the values a model computes on calibration
 * images. Method ("percentile", as TensorRT's and onnxruntime's calibrators offer it): for each
 * tensor and each calibration run, the `percentile` of its positive values and of the magnitudes of
 * its negative ones (0 when it has none), read off a 4096-bin histogram; the range is the mean of
 * those over the runs, widened to include 0 (zero must be exact: padding and ReLU produce it).
 * Clipping the rarest 0.001 % keeps one outlier from spending the 256 levels on empty range, which
 * plain min/max does.
 */
export interface ActivationRange {
  lo: number;
  hi: number;
}

export const DEFAULT_PERCENTILE = 99.999;
const BINS = 4096;

/**
 * The `q`-quantile (0-1) of |values| over those with sign `sign` (0 when there are none), from a
 * histogram over [0, max] refined by a second one inside the bin that holds the quantile: a lone
 * outlier that stretches the first histogram still leaves a resolution of max / 4096^2.
 */
function signedQuantile(values: Float32Array, sign: 1 | -1, q: number): number {
  let max = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = sign * values[i];
    if (v > 0) {
      n++;
      if (v > max) max = v;
    }
  }
  if (n === 0 || !Number.isFinite(max)) return 0;
  const target = q * n;
  let lo = 0;
  let width = max;
  let below = 0; // values under `lo`
  for (let pass = 0; pass < 2; pass++) {
    const hist = new Uint32Array(BINS);
    const k = BINS / width;
    for (let i = 0; i < values.length; i++) {
      const v = sign * values[i];
      if (v > 0 && v >= lo && v <= lo + width) hist[Math.min(BINS - 1, Math.floor((v - lo) * k))]++;
    }
    let seen = below;
    let b = 0;
    for (; b < BINS - 1 && seen + hist[b] < target; b++) seen += hist[b];
    below = seen;
    lo += (b * width) / BINS;
    width /= BINS;
  }
  return Math.min(max, lo + width);
}

export class ActivationRanges {
  private readonly sums = new Map<string, { lo: number; hi: number; runs: number }>();

  constructor(readonly percentile = DEFAULT_PERCENTILE) {
    if (!(percentile > 50 && percentile <= 100)) throw new RangeError(`percentile must be in (50, 100], got ${percentile}`);
  }

  /** One run's values of tensor `name` (NaN and infinities are not counted; an empty run is not a run). */
  observe(name: string, values: Float32Array): void {
    if (values.length === 0) return; // e.g. RoI features of an image without proposals
    const q = this.percentile / 100;
    const s = this.sums.get(name) ?? { lo: 0, hi: 0, runs: 0 };
    s.lo -= signedQuantile(values, -1, q);
    s.hi += signedQuantile(values, 1, q);
    s.runs++;
    this.sums.set(name, s);
  }

  /** Tensors observed so far and their ranges (always containing 0). */
  ranges(): Map<string, ActivationRange> {
    return new Map([...this.sums].map(([name, s]) => [name, { lo: Math.min(0, s.lo / s.runs), hi: Math.max(0, s.hi / s.runs) }]));
  }
}

/** uint8 affine parameters of a range: x ~ scale * (q - zeroPoint), q in 0..255, 0 exact. */
export function uint8Params(r: ActivationRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.lo);
  const hi = Math.max(0, r.hi);
  if (!(hi > lo) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}
