import type { EvalParams } from './params.ts';

/** The 12 COCO summary numbers (fractions; -1 where undefined, e.g. no GT in that area range). */
export interface EvalStats {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}

export const STAT_NAMES: readonly (keyof EvalStats)[] = [
  'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl',
];

interface StatSpec {
  ap: boolean;
  iouThr?: number;
  area: string;
  /** Index into `params.maxDets` (pycocotools uses maxDets[2] for AP and for AR100/ARs/ARm/ARl). */
  maxDetsIndex: 0 | 1 | 2;
}

/** pycocotools' `summarize()` table, in its order. */
export const STAT_SPECS: readonly StatSpec[] = [
  { ap: true, area: 'all', maxDetsIndex: 2 },
  { ap: true, iouThr: 0.5, area: 'all', maxDetsIndex: 2 },
  { ap: true, iouThr: 0.75, area: 'all', maxDetsIndex: 2 },
  { ap: true, area: 'small', maxDetsIndex: 2 },
  { ap: true, area: 'medium', maxDetsIndex: 2 },
  { ap: true, area: 'large', maxDetsIndex: 2 },
  { ap: false, area: 'all', maxDetsIndex: 0 },
  { ap: false, area: 'all', maxDetsIndex: 1 },
  { ap: false, area: 'all', maxDetsIndex: 2 },
  { ap: false, area: 'small', maxDetsIndex: 2 },
  { ap: false, area: 'medium', maxDetsIndex: 2 },
  { ap: false, area: 'large', maxDetsIndex: 2 },
];

/** Mean of the entries > -1 of precision (`[T,R,K,A,M]`) or recall (`[T,K,A,M]`) selected by `spec`; -1 if none. */
export function summaryStat(
  spec: StatSpec,
  precision: Float64Array,
  recall: Float64Array,
  params: EvalParams,
  shape: readonly [number, number, number, number, number],
): number {
  const [T, R, K, A, M] = shape;
  const a = params.areaRngLbl.indexOf(spec.area);
  const m = spec.maxDetsIndex < params.maxDets.length ? spec.maxDetsIndex : -1;
  if (a < 0 || m < 0) return -1;
  const ts = spec.iouThr === undefined ? [...Array(T).keys()] : [...Array(T).keys()].filter((t) => params.iouThrs[t] === spec.iouThr);
  let sum = 0;
  let n = 0;
  for (const t of ts) {
    if (spec.ap) {
      for (let r = 0; r < R; r++) {
        for (let k = 0; k < K; k++) {
          const v = precision[(((t * R + r) * K + k) * A + a) * M + m];
          if (v > -1) {
            sum += v;
            n++;
          }
        }
      }
    } else {
      for (let k = 0; k < K; k++) {
        const v = recall[((t * K + k) * A + a) * M + m];
        if (v > -1) {
          sum += v;
          n++;
        }
      }
    }
  }
  return n === 0 ? -1 : sum / n;
}

export function summarize(
  precision: Float64Array,
  recall: Float64Array,
  params: EvalParams,
  shape: readonly [number, number, number, number, number],
): { stats: EvalStats; statsArray: number[] } {
  const statsArray = STAT_SPECS.map((spec) => summaryStat(spec, precision, recall, params, shape));
  const stats = Object.fromEntries(STAT_NAMES.map((name, i) => [name, statsArray[i]])) as unknown as EvalStats;
  return { stats, statsArray };
}
