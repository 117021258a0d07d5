/**
 * Per-class summary statistics of one measurement: count, mean, median, sample standard deviation,
 * percentiles (numpy's linear definition) and a histogram with `bins` equal-width bins over
 * [min, max]; plus number density per µm² when the analysed area is known.
 */
export interface Summary {
  count: number;
  mean: number;
  median: number;
  std: number;
  min: number;
  max: number;
  percentiles: Record<string, number>;
  histogram: { edges: number[]; counts: number[] };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  return lo + 1 < sorted.length ? sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

export function summarise(values: readonly number[], bins = 20, pcts: readonly number[] = [5, 25, 50, 75, 95]): Summary {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) {
    return { count: 0, mean: Number.NaN, median: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN, percentiles: {}, histogram: { edges: [], counts: [] } };
  }
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const min = v[0], max = v[n - 1];
  const width = max > min ? (max - min) / bins : 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => min + i * width);
  const counts = new Array(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.floor((x - min) / width))]++;
  return {
    count: n,
    mean,
    median: percentile(v, 50),
    std,
    min,
    max,
    percentiles: Object.fromEntries(pcts.map((p) => [`p${p}`, percentile(v, p)])),
    histogram: { edges, counts },
  };
}

/** Objects per µm² of analysed area (area given in nm²). */
export function numberDensityPerUm2(count: number, analysedAreaNm2: number): number {
  return analysedAreaNm2 > 0 ? count / (analysedAreaNm2 / 1e6) : Number.NaN;
}
