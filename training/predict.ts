import * as tf from '@tensorflow/tfjs';
import { parseCocoResults } from '../core/coco/validate.ts';
import { type EvalResult, evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import { rotatedBoxEnclosing } from '../core/geometry/rotated-box.ts';
import { DEFAULT_NORMALIZATION, normalizeImage } from '../core/preprocess/normalize.ts';
import { readImage } from '../sdk-node/read-image.ts';
import { type BackendChoice, selectBackend } from './backend/select-backend.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { loadRboxDataset } from './data/dataset.ts';
import { loadInstanceDataset } from './data/instances.ts';
import { MaskRcnn } from './detection/mask-rcnn.ts';
import { type DetectorConfig, predictGeneric } from './detection/replica.ts';
import { RotatedRcnn } from './detection/rotated-rcnn.ts';
import { initParams } from './net/run-tfjs.ts';
import { modelSpecs } from './detection/model-specs.ts';
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

/** COCO evaluation of a model on a dataset (rbox or segm by task; classes matched by name). */
export async function evaluateModel(model: TrainedModel, annotations: string, maxDets = 300): Promise<EvalResult> {
  const rotated = model instanceof RotatedRcnn;
  const ds = rotated ? await loadRboxDataset(annotations, model.config.classes) : await loadInstanceDataset(annotations, model.config.classes);
  const results: Record<string, unknown>[] = [];
  for (const s of ds.samples) {
    const r = await predictFile(model, s.path);
    for (const inst of r.instances) {
      const category_id = ds.categoryIds[model.config.classes.indexOf(inst.label)];
      results.push(rotated ? { image_id: s.imageId, category_id, rbox: inst.rbox, score: inst.score } : { image_id: s.imageId, category_id, segmentation: inst.mask, score: inst.score });
    }
  }
  const iouType = rotated ? 'rbox' : 'segm';
  const params = defaultEvalParams();
  params.maxDets = [1, 10, maxDets];
  return evaluateCoco(ds.coco, parseCocoResults(results, 'predictions', ds.coco, iouType), iouType, params);
}
