import type { EvalResult } from './coco-eval.ts';

/**
 * AP, AP50 and AP75 of one category (area "all", the largest maxDets), from the precision array
 * as pycocotools' summarize reads it: the mean over recall thresholds (and IoU thresholds for AP)
 * of the entries > -1; -1 when the category has no ground truth.
 */
export function categoryAp(result: EvalResult, catId: number): { AP: number; AP50: number; AP75: number } {
  const [T, R, K, A, M] = result.precisionShape;
  const k = result.catIds.indexOf(catId);
  if (k < 0) return { AP: -1, AP50: -1, AP75: -1 };
  const at = (t: number, r: number): number => result.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
  const mean = (ts: number[]): number => {
    let sum = 0, n = 0;
    for (const t of ts) for (let r = 0; r < R; r++) {
      const v = at(t, r);
      if (v > -1) { sum += v; n++; }
    }
    return n === 0 ? -1 : sum / n;
  };
  const index = (thr: number): number => result.params.iouThrs.findIndex((v) => Math.abs(v - thr) < 1e-12);
  return { AP: mean(Array.from({ length: T }, (_, t) => t)), AP50: mean([index(0.5)]), AP75: mean([index(0.75)]) };
}
