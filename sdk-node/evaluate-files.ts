import { loadCocoResults, loadGroundTruth } from '../core/coco/load.ts';
import type { IouType } from '../core/coco/types.ts';
import { type EvalResult, evaluateCoco } from '../core/eval/coco-eval.ts';
import { readTextFile } from './read-file.ts';

export interface EvaluateFilesOptions {
  gt: string;
  dt: string;
  iouType: IouType;
}

/** Evaluate a COCO results file against a COCO ground-truth file (both validated first). */
export async function evaluateFiles({ gt, dt, iouType }: EvaluateFilesOptions): Promise<EvalResult & { categories: { id: number; name: string }[] }> {
  // Ground truth first, so errors are reported in the order a user fixes them.
  const gtData = loadGroundTruth(await readTextFile(gt), gt, iouType);
  const results = loadCocoResults(await readTextFile(dt), dt, gtData, iouType);
  const result = evaluateCoco(gtData, results, iouType, undefined, { gt, dt });
  return { ...result, categories: gtData.categories };
}
