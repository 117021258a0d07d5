import * as tf from '@tensorflow/tfjs';
import { parseCocoResults } from '../core/coco/validate.ts';
import { type EvalResult, evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import { rotatedBoxEnclosing } from '../core/geometry/rotated-box.ts';
import type { RotatedBox } from '../core/geometry/types.ts';
import { DEFAULT_NORMALIZATION, normalizeImage } from '../core/preprocess/normalize.ts';
import { readImage } from '../sdk-node/read-image.ts';
import { type BackendChoice, selectBackend } from './backend/select-backend.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { padTo } from './data/augment.ts';
import { loadRboxDataset } from './data/dataset.ts';
import type { RotatedRcnnConfig } from './detection/config.ts';
import { RotatedRcnn } from './detection/rotated-rcnn.ts';
import { initParams } from './net/run-tfjs.ts';
import { backboneSpec, boxHeadSpec } from './detection/specs.ts';

/** One detected object, in the shape the SDKs return. */
export interface Instance {
  label: string;
  score: number;
  /** Axis-aligned [x1, y1, x2, y2] in pixels (the rotated box's enclosing box). */
  box: [number, number, number, number];
  rbox?: RotatedBox;
}

export interface ImageResult {
  width: number;
  height: number;
  pixelSize: { x: number; y: number } | null;
  instances: Instance[];
}

/** A trained model from a checkpoint folder (e.g. runs/NAME/checkpoints/best), on the selected backend. */
export async function loadTrainedModel(dir: string, backend: BackendChoice = 'auto'): Promise<RotatedRcnn> {
  await selectBackend(backend);
  const { manifest, params } = await loadCheckpoint(dir);
  const config = manifest.config as RotatedRcnnConfig;
  const all = new Map([...initParams(backboneSpec(config), 0), ...initParams(boxHeadSpec(config), 1)]);
  let off = 0;
  for (const v of all.values()) {
    v.assign(tf.tensor(params.subarray(off, off + v.size), v.shape));
    off += v.size;
  }
  return new RotatedRcnn(config, all);
}

/** Detections on one normalised image (float32, row-major). The tfjs reference for exported models. */
export function predictNormalized(model: RotatedRcnn, data: Float32Array, width: number, height: number): Instance[] {
  const p = padTo(data, width, height);
  const x = tf.tensor4d(p.data, [1, p.height, p.width, 1]);
  try {
    return model.predict(x, { width, height }).map((d) => {
      const [x1, y1, x2, y2] = rotatedBoxEnclosing(d.rbox);
      return { label: model.config.classes[d.classIndex], score: d.score, box: [x1, y1, x2, y2], rbox: d.rbox };
    });
  } finally {
    x.dispose();
  }
}

export async function predictFile(model: RotatedRcnn, path: string): Promise<ImageResult> {
  const im = await readImage(path);
  const { data } = normalizeImage(im, DEFAULT_NORMALIZATION);
  return { width: im.width, height: im.height, pixelSize: im.pixelSize, instances: predictNormalized(model, data, im.width, im.height) };
}

/** rbox COCO evaluation of a model on a dataset (classes matched by name). */
export async function evaluateModel(model: RotatedRcnn, annotations: string, maxDets = 300): Promise<EvalResult> {
  const ds = await loadRboxDataset(annotations, model.config.classes);
  const results: Record<string, unknown>[] = [];
  for (const s of ds.samples) {
    const r = await predictFile(model, s.path);
    for (const inst of r.instances) {
      const k = model.config.classes.indexOf(inst.label);
      results.push({ image_id: s.imageId, category_id: ds.categoryIds[k], rbox: inst.rbox, score: inst.score });
    }
  }
  const params = defaultEvalParams();
  params.maxDets = [1, 10, maxDets];
  return evaluateCoco(ds.coco, parseCocoResults(results, 'predictions', ds.coco, 'rbox'), 'rbox', params);
}
