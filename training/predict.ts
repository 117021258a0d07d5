import * as tf from '@tensorflow/tfjs';
import { dirname, resolve } from 'node:path';
import { loadCocoDataset } from '../core/coco/load.ts';
import type { EvalResult } from '../core/eval/coco-eval.ts';
import { evaluateModelOn } from '../core/eval/model-eval.ts';
import { rotatedBoxEnclosing } from '../core/geometry/rotated-box.ts';
import { DEFAULT_NORMALIZATION, normalizeImage } from '../core/preprocess/normalize.ts';
import { readTextFile } from '../sdk-node/read-file.ts';
import { readImage } from '../sdk-node/read-image.ts';
import { type BackendChoice, selectBackend } from './backend/select-backend.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { MaskRcnn } from './detection/mask-rcnn.ts';
import { type DetectorConfig, predictGeneric } from './detection/replica.ts';
import { RotatedRcnn } from './detection/rotated-rcnn.ts';
import { initParams } from './net/run-tfjs.ts';
import { modelSpecs } from '../model/detection/model-specs.ts';
import type { ImageResult, Instance } from '../core/inference/types.ts';

export type { ImageResult, Instance } from '../core/inference/types.ts';

/** A trained model from a checkpoint folder (e.g. runs/NAME/checkpoints/best), on the selected backend. */
export type TrainedModel = RotatedRcnn | MaskRcnn;

export async function loadTrainedModel(dir: string, backend: BackendChoice = 'auto'): Promise<TrainedModel> {
  await selectBackend(backend);
  const { manifest, params } = await loadCheckpoint(dir);
  const config = manifest.config as DetectorConfig;
  const all = new Map(modelSpecs(config).flatMap((spec, i) => [...initParams(spec, i)]));
  let off = 0;
  for (const v of all.values()) {
    v.assign(tf.tensor(params.subarray(off, off + v.size), v.shape));
    off += v.size;
  }
  if (off !== params.length) throw new Error(`${dir}: checkpoint holds ${params.length} values, the model ${off}`);
  return config.task === 'rotated-detection' ? new RotatedRcnn(config, all) : new MaskRcnn(config, all);
}

/** Detections on one normalised image (float32, row-major). The tfjs reference for exported models. */
export function predictNormalized(model: TrainedModel, data: Float32Array, width: number, height: number): Instance[] {
  return predictGeneric(model, data, width, height).map((d) => {
    const label = model.config.classes[d.classIndex];
    if (d.rbox) {
      const [x1, y1, x2, y2] = rotatedBoxEnclosing(d.rbox);
      return { label, score: d.score, box: [x1, y1, x2, y2], rbox: d.rbox };
    }
    return { label, score: d.score, box: d.box!, mask: d.mask };
  });
}

export async function predictFile(model: TrainedModel, path: string): Promise<ImageResult> {
  const im = await readImage(path);
  const { data } = normalizeImage(im, DEFAULT_NORMALIZATION);
  return { width: im.width, height: im.height, pixelSize: im.pixelSize, instances: predictNormalized(model, data, im.width, im.height) };
}

/** COCO evaluation of a checkpoint on a dataset: the shared model evaluation (core/eval/model-eval.ts). */
export async function evaluateModel(model: TrainedModel, annotations: string, maxDets = 300): Promise<EvalResult> {
  const coco = loadCocoDataset(await readTextFile(annotations), annotations);
  const root = dirname(resolve(annotations));
  const { result } = await evaluateModelOn(coco, model.config.classes, model.config.task, (im) => predictFile(model, resolve(root, im.file_name)), { maxDets, source: annotations, model: 'checkpoint' });
  return result;
}
