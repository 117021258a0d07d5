import { dirname, resolve } from 'node:path';
import { type OtsuWatershedOptions, otsuWatershed } from '../core/baseline/otsu-watershed.ts';
import { loadCocoDataset } from '../core/coco/load.ts';
import type { CocoDataset } from '../core/coco/types.ts';
import { parseCocoResults } from '../core/coco/validate.ts';
import { EmsegError } from '../core/errors.ts';
import { evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import type { EvalStats } from '../core/eval/summarize.ts';
import { toCocoRle } from '../core/mask/coco-segmentation.ts';
import { normalizeImage } from '../core/preprocess/normalize.ts';
import { readTextFile } from './read-file.ts';
import { readImage } from './read-image.ts';

export interface BaselineEvalReport {
  category: string;
  images: number;
  detections: number;
  /** null when the ground truth has boxes only (then only bbox AP is defined). */
  segm: EvalStats | null;
  bbox: EvalStats;
  /** Wall time of reading, segmenting and scoring, in seconds. */
  seconds: number;
  /** The objects found, as a COCO results list (segmentation as RLE, bbox, score). */
  results: Record<string, unknown>[];
}

/**
 * The Otsu + watershed floor (core/baseline) on every image of a COCO dataset, scored as segm (when
 * the ground truth has masks) and bbox on one category (the dataset's only one unless named): the number each learned model is
 * reported beside. Images are normalised as models see them (per-image 0.5-99.5 percentiles).
 */
export async function evaluateBaselineFile(annotations: string, o: { category?: string; maxDets?: number; options?: OtsuWatershedOptions } = {}): Promise<BaselineEvalReport> {
  const t0 = performance.now();
  const coco = loadCocoDataset(await readTextFile(annotations), annotations);
  // '*': the traditional pipeline knows no classes, so every category is scored as one.
  const cat = o.category === '*' ? { id: coco.categories[0]?.id ?? 1, name: coco.categories.map((c) => c.name).join('+') } : o.category === undefined ? (coco.categories.length === 1 ? coco.categories[0] : undefined) : coco.categories.find((c) => c.name === o.category);
  if (!cat) {
    const names = coco.categories.map((c) => c.name).join(', ');
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', o.category === undefined ? `${annotations}: ${coco.categories.length} categories (${names}); name the one to score, or --category '*' for all as one` : `${annotations}: no category "${o.category}" (categories: ${names})`, { file: annotations });
  }
  const gt: CocoDataset = o.category === '*'
    ? { ...coco, categories: [cat], annotations: coco.annotations.map((a) => ({ ...a, category_id: cat.id })) }
    : { ...coco, categories: [cat], annotations: coco.annotations.filter((a) => a.category_id === cat.id) };
  const root = dirname(resolve(annotations));
  const results: Record<string, unknown>[] = [];
  for (const im of coco.images) {
    const img = await readImage(resolve(root, im.file_name));
    const { data } = normalizeImage(img);
    for (const inst of otsuWatershed(data, img.width, img.height, o.options).instances) {
      results.push({ image_id: im.id, category_id: cat.id, segmentation: toCocoRle(inst.mask), bbox: inst.bbox, score: inst.score });
    }
  }
  const params = defaultEvalParams();
  params.maxDets = [1, 10, o.maxDets ?? 300];
  const score = (iouType: 'segm' | 'bbox'): EvalStats => ({ ...evaluateCoco(gt, parseCocoResults(results, 'baseline detections', gt, iouType), iouType, params, { gt: annotations, dt: 'otsu-watershed' }).stats });
  const hasMasks = gt.annotations.every((a) => a.segmentation !== undefined);
  const segm = hasMasks ? score('segm') : null, bbox = score('bbox');
  return { category: cat.name, images: coco.images.length, detections: results.length, segm, bbox, seconds: (performance.now() - t0) / 1000, results };
}
