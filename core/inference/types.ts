import type { RotatedBox } from '../geometry/types.ts';
import type { CocoRle } from '../mask/coco-segmentation.ts';
import type { ObjectMeasurements } from '../measure/object-measurements.ts';

/** One detected object, as the SDKs and `emseg predict` return it. */
export interface Instance {
  label: string;
  score: number;
  /** Axis-aligned [x1, y1, x2, y2] in pixels (for rotated boxes, their enclosing box). */
  box: [number, number, number, number];
  /** [cx, cy, w, h, angleDeg] (rotated detection). */
  rbox?: RotatedBox;
  /** Instance mask (compressed COCO RLE at the image size), for instance segmentation. */
  mask?: CocoRle;
  /** Per-object measurements (SDKs), in nm when the image is calibrated. */
  measurements?: ObjectMeasurements;
}

export interface ImageResult {
  width: number;
  height: number;
  /** nm per pixel, from the file's calibration; null when uncalibrated. */
  pixelSize: { x: number; y: number } | null;
  instances: Instance[];
}
