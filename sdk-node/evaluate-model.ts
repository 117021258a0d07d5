import { dirname, resolve } from 'node:path';
import { loadCocoDataset } from '../core/coco/load.ts';
import type { EvalResult } from '../core/eval/coco-eval.ts';
import { type ModelEvalReport, evaluateModelOn } from '../core/eval/model-eval.ts';
import { Detector, type DetectorOptions } from './detector.ts';
import { readTextFile } from './read-file.ts';

export type { ModelEvalReport };

/**
 * `emseg eval-model`: an exported model (file or zoo name) run through the Node SDK on every image
 * of a COCO dataset and scored by the shared model evaluation (core/eval/model-eval.ts: segm for
 * Mask R-CNN, rbox for rotated detectors, categories matched to the model's classes by name).
 */
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
    const root = dirname(resolve(annotations));
    return await evaluateModelOn(coco, detector.classes ?? info.classes, info.task, (im) => detector.run(resolve(root, im.file_name)), { maxDets: options.maxDets, source: annotations, model });
  } finally {
    await detector.dispose();
  }
}
