import type { CocoDataset, CocoImage, IouType } from '../coco/types.ts';
import { parseCocoResults } from '../coco/validate.ts';
import { EmsegError } from '../errors.ts';
import type { ModelTask } from '../inference/model-contract.ts';
import type { ImageResult } from '../inference/types.ts';
import { type EvalResult, evaluateCoco } from './coco-eval.ts';
import { defaultEvalParams } from './params.ts';
import { categoryAp } from './per-class.ts';
import type { EvalStats } from './summarize.ts';

/**
 * The one model evaluation (`emseg eval-model` on an exported model, `emseg predict --data` on a
 * checkpoint, the CI zoo gate): a model's results on every image of a COCO dataset, scored with the
 * shared evaluator, segm for Mask R-CNN and rbox for rotated detectors. Dataset categories and model
 * classes are matched by NAME; categories the model lacks are left out of the ground truth (so a zoo
 * alias of one class is scored on that class only), and a dataset sharing no name is an error.
 */
export interface ModelEvalReport {
  iouType: IouType;
  stats: EvalStats;
  perClass: Record<string, { AP: number; AP50: number; AP75: number }>;
  images: number;
  detections: number;
}

export interface ModelEvalOptions {
  /** Largest maxDets (default 300: EM images often hold more than COCO's 100 objects). */
  maxDets?: number;
  /** Names the model in messages. */
  model?: string;
  /** Names the dataset in messages. */
  source?: string;
}

export const taskIouType = (task: ModelTask): IouType => (task === 'instance-segmentation' ? 'segm' : 'rbox');

export async function evaluateModelOn(coco: CocoDataset, classes: readonly string[], task: ModelTask, predict: (image: CocoImage) => Promise<ImageResult>, o: ModelEvalOptions = {}): Promise<{ report: ModelEvalReport; result: EvalResult }> {
  const source = o.source ?? 'dataset';
  const categories = coco.categories.filter((c) => classes.includes(c.name));
  if (categories.length === 0) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${source}: no category matches the model's classes (${classes.join(', ')}); categories are ${coco.categories.map((c) => c.name).join(', ')}`, { file: source });
  }
  const ids = new Set(categories.map((c) => c.id));
  const gt: CocoDataset = { ...coco, categories, annotations: coco.annotations.filter((a) => ids.has(a.category_id)) };
  const idOf = new Map(categories.map((c) => [c.name, c.id]));
  const iouType = taskIouType(task);
  const results: Record<string, unknown>[] = [];
  for (const im of coco.images) {
    const r = await predict(im);
    for (const inst of r.instances) {
      const category_id = idOf.get(inst.label);
      if (category_id === undefined) continue;
      results.push(iouType === 'segm' ? { image_id: im.id, category_id, segmentation: inst.mask, score: inst.score } : { image_id: im.id, category_id, rbox: inst.rbox, score: inst.score });
    }
  }
  const params = defaultEvalParams();
  params.maxDets = [1, 10, o.maxDets ?? 300];
  const result = evaluateCoco(gt, parseCocoResults(results, `${o.model ?? 'model'} detections`, gt, iouType), iouType, params, { gt: source, dt: o.model ?? 'model' });
  const perClass = Object.fromEntries(categories.map((c) => [c.name, categoryAp(result, c.id)]));
  return { report: { iouType, stats: { ...result.stats }, perClass, images: coco.images.length, detections: results.length }, result };
}
