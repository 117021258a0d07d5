import type { RotatedBox } from '../geometry/types.ts';
import type { Rle } from '../mask/rle.ts';

/** One annotated object of a synthetic image: its exact instance mask and, for rods, its rotated box. */
export interface SynthObject {
  categoryId: number;
  rle: Rle;
  rbox?: RotatedBox;
}

/** A synthetic micrograph: 16-bit pixels, physical pixel size, and its ground truth. */
export interface SynthImage {
  width: number;
  height: number;
  pixelSizeNm: number;
  data: Uint16Array;
  objects: SynthObject[];
}

export interface CategorySpec {
  id: number;
  name: string;
}

/** An inclusive integer range `[min, max]`; a count is drawn uniformly from it per image. */
export type CountRange = readonly [number, number];
