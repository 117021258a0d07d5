import { rotatedBoxCorners, rotatedBoxEnclosing } from '../geometry/rotated-box.ts';
import type { BoxXYXY, RotatedBox } from '../geometry/types.ts';
import { toCocoRle } from '../mask/coco-segmentation.ts';
import { rasterizeMask } from '../mask/paste-mask.ts';
import { decodeRle, encodeMaskInBox, rleFromPolygon } from '../mask/rle.ts';
import { measureMask } from '../measure/object-measurements.ts';
import type { PixelArray } from '../formats/types.ts';
import type { ModelInfo } from './model-contract.ts';
import type { Instance } from './types.ts';

/**
 * From an exported model's padded outputs (docs/model-format.md) to the SDKs' result objects: read
 * the rows of one image, map them from model input space (a tile, possibly resampled) to image
 * pixels, then paste masks (or rasterise rotated boxes) and measure each object.
 */

/** One image's rows of the model outputs (views into the batch tensors). */
export interface ImageOutputs {
  count: number;
  boxes: Float32Array;
  scores: Float32Array;
  labels: ArrayLike<number | bigint>;
  rboxes?: Float32Array;
  /** [K, M, M] mask probabilities. */
  masks?: Float32Array;
  maskResolution?: number;
}

/** Model-space to image-space: image = (model + offset) * scale. */
export interface ToImage {
  offsetX: number;
  offsetY: number;
  scale: number;
}

export interface Detection {
  classIndex: number;
  score: number;
  /** Image pixels. */
  box: BoxXYXY;
  rbox?: RotatedBox;
  /** M x M mask probabilities over `box` (row-major). */
  maskProbs?: Float32Array;
}

export function readDetections(o: ImageOutputs, t: ToImage = { offsetX: 0, offsetY: 0, scale: 1 }): Detection[] {
  const out: Detection[] = [];
  const M = o.maskResolution ?? 0;
  const X = (v: number): number => (v + t.offsetX) * t.scale;
  const Y = (v: number): number => (v + t.offsetY) * t.scale;
  for (let j = 0; j < o.count; j++) {
    const d: Detection = {
      classIndex: Number(o.labels[j]),
      score: o.scores[j],
      box: [X(o.boxes[4 * j]), Y(o.boxes[4 * j + 1]), X(o.boxes[4 * j + 2]), Y(o.boxes[4 * j + 3])],
    };
    if (o.rboxes) {
      const r = o.rboxes.subarray(5 * j, 5 * j + 5);
      d.rbox = [X(r[0]), Y(r[1]), r[2] * t.scale, r[3] * t.scale, r[4]];
      d.box = rotatedBoxEnclosing(d.rbox);
    }
    if (o.masks && M > 0) d.maskProbs = o.masks.subarray(j * M * M, (j + 1) * M * M);
    out.push(d);
  }
  return out;
}

/** The image an instance is measured on: its size, calibration and (optionally) raw pixels for mean intensity. */
export interface MeasuredImage {
  width: number;
  height: number;
  pixelSize: { x: number; y: number } | null;
  data?: PixelArray;
}

function crop(data: PixelArray, imageWidth: number, x: number, y: number, w: number, h: number): Float64Array {
  const out = new Float64Array(w * h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = data[(y + r) * imageWidth + x + c];
  return out;
}

/**
 * The result object of one detection: label, score, box, rbox or mask (COCO RLE at the image size)
 * and measurements. Masks and measurements use the object's own pixel rectangle, not the whole
 * image, so thousands of objects on a 4096^2 image stay cheap.
 */
export function toInstance(d: Detection, info: Pick<ModelInfo, 'classes'>, image: MeasuredImage, resolution = 0): Instance {
  const { width, height } = image;
  let local: { mask: Uint8Array; x: number; y: number; width: number; height: number };
  const instance: Instance = { label: info.classes[d.classIndex] ?? `class_${d.classIndex}`, score: d.score, box: [d.box[0], d.box[1], d.box[2], d.box[3]] };
  if (d.maskProbs && resolution > 0) {
    const probs = d.maskProbs;
    local = rasterizeMask((u, v) => probs[v * resolution + u], resolution, d.box, width, height);
    instance.mask = toCocoRle(encodeMaskInBox(local.mask, local.x, local.y, local.width, local.height, height, width));
  } else {
    // Rotated boxes (or boxes): the object is the box polygon, rasterised as COCO does polygons.
    const corners = d.rbox ? rotatedBoxCorners(d.rbox) : [[d.box[0], d.box[1]], [d.box[2], d.box[1]], [d.box[2], d.box[3]], [d.box[0], d.box[3]]];
    const x = Math.min(Math.max(0, Math.floor(d.box[0])), width - 1), y = Math.min(Math.max(0, Math.floor(d.box[1])), height - 1);
    const w = Math.max(1, Math.min(width, Math.ceil(d.box[2])) - x), h = Math.max(1, Math.min(height, Math.ceil(d.box[3])) - y);
    const xy = corners.flatMap(([cx, cy]) => [cx - x, cy - y]);
    local = { mask: decodeRle(rleFromPolygon(xy, h, w)), x, y, width: w, height: h };
  }
  if (d.rbox) instance.rbox = d.rbox;
  instance.measurements = measureMask(local.mask, local.height, local.width, {
    pixelSize: image.pixelSize,
    ...(image.data ? { image: crop(image.data, width, local.x, local.y, local.width, local.height) } : {}),
    ...(d.rbox ? { rbox: d.rbox } : {}),
  });
  return instance;
}
