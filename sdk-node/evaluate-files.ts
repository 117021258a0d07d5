import { loadCocoResults, loadGroundTruth } from '../core/coco/load.ts';
import type { IouType } from '../core/coco/types.ts';
import { type EvalResult, evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import { readTextFile } from './read-file.ts';

export interface EvaluateFilesOptions {
  gt: string;
  dt: string;
  iouType: IouType;
  /** Last entry of maxDets (default 100). */
  maxDets?: number;
}

/** Evaluate a COCO results file against a COCO ground-truth file (both validated first). */
export async function evaluateFiles({ gt, dt, iouType, maxDets }: EvaluateFilesOptions): Promise<EvalResult & { categories: { id: number; name: string }[] }> {
  // Ground truth first, so errors are reported in the order a user fixes them.
  const gtData = loadGroundTruth(await readTextFile(gt), gt, iouType);
  const results = loadCocoResults(await readTextFile(dt), dt, gtData, iouType);
  const params = defaultEvalParams();
  if (maxDets !== undefined) params.maxDets = [1, 10, maxDets];
  const result = evaluateCoco(gtData, results, iouType, params, { gt, dt });
  return { ...result, categories: gtData.categories };
}
