/**
 * COCOeval's default parameters, built with the same float64 arithmetic as numpy's `linspace`
 * (`start + i * step`, last element set to `stop`): the thresholds are then bit-identical to
 * pycocotools' (e.g. iouThrs[8] = 0.8999999999999999, recThrs[i] = i * 0.01, not i / 100), which
 * matters because a recall of exactly k/n can land on a threshold.
 */
export interface EvalParams {
  iouThrs: readonly number[];
  recThrs: readonly number[];
  /** Ascending; the summary uses [0], [1] and [2] (AR1, AR10, AR100 and AP at the last). */
  maxDets: readonly number[];
  areaRng: readonly (readonly [number, number])[];
  areaRngLbl: readonly string[];
}

export function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const step = (stop - start) / div;
  const out = Array.from({ length: num }, (_, i) => start + i * step);
  if (num > 1) out[num - 1] = stop;
  return out;
}

export function defaultEvalParams(): EvalParams {
  return {
    iouThrs: linspace(0.5, 0.95, 10),
    recThrs: linspace(0, 1, 101),
    maxDets: [1, 10, 100],
    areaRng: [
      [0, 1e10],
      [0, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e10],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
  };
}
