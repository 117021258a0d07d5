import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';
import type { CocoSegmentation } from '../mask/coco-segmentation.ts';

export interface CocoImage {
  id: number;
  width: number;
  height: number;
  file_name: string;
  [extra: string]: unknown;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
  [extra: string]: unknown;
}

/** A ground-truth annotation. `rbox` is emseg's extension for rotated boxes (XYWHA, degrees). */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox?: BoxXYWH;
  /** Decides the GT's area range in evaluation; computed from the geometry when a file omits it. */
  area: number;
  iscrowd: 0 | 1;
  segmentation?: CocoSegmentation;
  rbox?: RotatedBox;
  [extra: string]: unknown;
}

export interface CocoDataset {
  info?: Record<string, unknown>;
  licenses?: unknown[];
  images: CocoImage[];
  categories: CocoCategory[];
  annotations: CocoAnnotation[];
}

/** One entry of a COCO results file (a detection). */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  score: number;
  bbox?: BoxXYWH;
  segmentation?: CocoSegmentation;
  rbox?: RotatedBox;
  [extra: string]: unknown;
}

export type IouType = 'bbox' | 'segm' | 'rbox';
export const IOU_TYPES: readonly IouType[] = ['bbox', 'segm', 'rbox'];
