import { invalidArgument } from '../errors.ts';
import type { EmImage, PixelArray } from '../formats/types.ts';

/**
 * Intensity normalisation, part of every model's contract (stored in the ONNX metadata as
 * `emseg.normalization`): each image is mapped to float32 with its own robust range,
 *   out = clamp((v - P_low) / (P_high - P_low), 0, 1),
 * where P_low and P_high are the image's `low` and `high` percentiles (default 0.5 and 99.5).
 * Per-image percentiles make models independent of bit depth (8-bit PNG, 16-bit camera counts,
 * float MRC), of dose and of detector offset; clipping keeps hot pixels and saturated holes from
 * compressing the useful range. A constant image maps to 0. NaN pixels (some float files carry them)
 * are excluded from the percentiles and map to 0.
 *
 * Percentiles use numpy's default definition (linear interpolation between order statistics at rank
 * q * (n - 1)). 8- and 16-bit images use an exact histogram (O(n), no sort); other types a
 * quickselect on a copy.
 */
export interface PercentileNormalization {
  method: 'percentile';
  low: number;
  high: number;
}

export const DEFAULT_NORMALIZATION: PercentileNormalization = { method: 'percentile', low: 0.5, high: 99.5 };

export function checkNormalization(n: PercentileNormalization): void {
  if (n.method !== 'percentile') throw invalidArgument('normalization.method', '"percentile"', n.method);
  if (!(n.low >= 0 && n.high <= 100 && n.low < n.high)) {
    throw invalidArgument('normalization percentiles', '0 <= low < high <= 100', [n.low, n.high]);
  }
}

/** Two percentiles of pixel values (NaN excluded); [0, 0] for an image with no finite pixel. */
export function percentiles(data: PixelArray, lowPct: number, highPct: number): [number, number] {
  if (data instanceof Uint8Array || data instanceof Uint16Array) return histogramPercentiles(data, lowPct, highPct);
  const values = new Float64Array(data.length);
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isNaN(data[i])) values[n++] = data[i];
  if (n === 0) return [0, 0];
  const v = values.subarray(0, n);
  return [quantile(v, lowPct / 100), quantile(v, highPct / 100)];
}

function histogramPercentiles(data: Uint8Array | Uint16Array, lowPct: number, highPct: number): [number, number] {
  const n = data.length;
  if (n === 0) return [0, 0];
  const hist = new Uint32Array(data instanceof Uint8Array ? 256 : 65536);
  for (let i = 0; i < n; i++) hist[data[i]]++;
  // k-th order statistic (0-based) from the cumulative histogram.
  const orderStat = (k: number): number => {
    let acc = 0;
    for (let v = 0; v < hist.length; v++) {
      acc += hist[v];
      if (acc > k) return v;
    }
    return hist.length - 1;
  };
  const at = (q: number): number => {
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const a = orderStat(lo);
    const frac = pos - lo;
    return frac === 0 ? a : a + frac * (orderStat(lo + 1) - a);
  };
  return [at(lowPct / 100), at(highPct / 100)];
}

/** numpy-style linear quantile by quickselect (reorders `v`). */
function quantile(v: Float64Array, q: number): number {
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const a = select(v, lo);
  if (pos === lo) return a;
  // The next order statistic is the minimum of the part above `lo` after selection.
  let b = Infinity;
  for (let i = lo + 1; i < v.length; i++) if (v[i] < b) b = v[i];
  return a + (pos - lo) * (b - a);
}

/** Hoare quickselect: places the k-th smallest at index k, smaller before, larger after. */
function select(v: Float64Array, k: number): number {
  let left = 0, right = v.length - 1;
  while (right > left) {
    const pivot = v[(left + right) >> 1];
    let i = left, j = right;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        const t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return v[k];
}

/** Normalise an image to float32 in [0, 1] (see the module comment). */
export function normalizeImage(image: Pick<EmImage, 'data'>, spec: PercentileNormalization = DEFAULT_NORMALIZATION): { data: Float32Array; low: number; high: number } {
  checkNormalization(spec);
  const [low, high] = percentiles(image.data, spec.low, spec.high);
  const out = new Float32Array(image.data.length);
  const range = high - low;
  if (!(range > 0)) return { data: out, low, high };
  const inv = 1 / range;
  const src = image.data;
  for (let i = 0; i < src.length; i++) {
    const t = (src[i] - low) * inv;
    out[i] = t > 0 ? (t < 1 ? t : 1) : 0; // NaN fails both tests and becomes 0
  }
  return { data: out, low, high };
}

/** The image for display: percentile-normalised, 8-bit grey (NaN as black); overlays in Node and the web app. */
export function displayGrey8(image: Pick<EmImage, 'data'>): Uint8Array {
  const { data } = normalizeImage(image);
  const grey = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) grey[i] = Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(data[i]) ? data[i] : 0)));
  return grey;
}
