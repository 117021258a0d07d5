import { dirname, resolve } from 'node:path';
import { loadCocoDataset } from '../core/coco/load.ts';
import type { CocoDataset, IouType } from '../core/coco/types.ts';
import { parseCocoResults } from '../core/coco/validate.ts';
import { EmsegError } from '../core/errors.ts';
import { type EvalResult, evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import { categoryAp } from '../core/eval/per-class.ts';
import type { EvalStats } from '../core/eval/summarize.ts';
import { Detector, type DetectorOptions } from './detector.ts';
import { readTextFile } from './read-file.ts';

/**
 * `emseg eval-model`: an exported model (file or zoo name) run through the Node SDK on every image
 * of a COCO dataset and scored with the shared evaluator: segm for Mask R-CNN, rbox for rotated
 * detectors. Model classes and dataset categories are matched by name; categories the model does
 * not have are left out (so a zoo alias of one class is scored on that class).
 */
export interface ModelEvalReport {
  iouType: IouType;
  stats: EvalStats;
  perClass: Record<string, { AP: number; AP50: number; AP75: number }>;
  images: number;
  detections: number;
}

export interface EvaluateModelOptions {
  /** Largest maxDets (default 300: synthetic TEM images hold ~190 objects). */
  maxDets?: number;
  detector?: DetectorOptions;
}

export async function evaluateModelFile(model: string, annotations: string, options: EvaluateModelOptions = {}): Promise<{ report: ModelEvalReport; result: EvalResult }> {
  const coco = loadCocoDataset(await readTextFile(annotations), annotations);
  const detector = new Detector(model, { scoreThreshold: 0, log: () => {}, ...options.detector });
  try {
    const info = await detector.info();
    const wanted = detector.classes ?? info.classes;
    const categories = coco.categories.filter((c) => wanted.includes(c.name));
    if (categories.length === 0) {
      throw new EmsegError('EMSEG_COCO_INVALID', `${annotations}: no category matches the model's classes (${wanted.join(', ')}); categories are ${coco.categories.map((c) => c.name).join(', ')}`, { file: annotations });
    }
    const ids = new Set(categories.map((c) => c.id));
    const gt: CocoDataset = { ...coco, categories, annotations: coco.annotations.filter((a) => ids.has(a.category_id)) };
    const idOf = new Map(categories.map((c) => [c.name, c.id]));
    const iouType: IouType = info.task === 'instance-segmentation' ? 'segm' : 'rbox';
    const results: Record<string, unknown>[] = [];
    const root = dirname(resolve(annotations));
    for (const im of coco.images) {
      const r = await detector.run(resolve(root, im.file_name));
      for (const inst of r.instances) {
        const category_id = idOf.get(inst.label);
        if (category_id === undefined) continue;
        results.push(iouType === 'segm' ? { image_id: im.id, category_id, segmentation: inst.mask, score: inst.score } : { image_id: im.id, category_id, rbox: inst.rbox, score: inst.score });
      }
    }
    const params = defaultEvalParams();
    params.maxDets = [1, 10, options.maxDets ?? 300];
    const result = evaluateCoco(gt, parseCocoResults(results, 'model detections', gt, iouType), iouType, params, { gt: annotations, dt: model });
    const perClass = Object.fromEntries(categories.map((c) => [c.name, categoryAp(result, c.id)]));
    return { report: { iouType, stats: { ...result.stats }, perClass, images: coco.images.length, detections: results.length }, result };
  } finally {
    await detector.dispose();
  }
}
