import { boxIoUXYWH } from '../geometry/box-iou.ts';
import { rotatedIoU, rotatedIoUCrowd } from '../geometry/rotated-iou.ts';
import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';
import { type Rle, rleArea, rleIntersection, rleToBbox } from '../mask/rle.ts';

/**
 * IoU matrices `[D x G]` (row-major: `out[d * G + g]`) between detections and ground truths of one
 * image and category, with COCO crowd semantics (a crowd GT's union is the detection's area).
 */

export function bboxIoUMatrix(dts: readonly BoxXYWH[], gts: readonly BoxXYWH[], crowd: Uint8Array): Float64Array {
  const G = gts.length;
  const out = new Float64Array(dts.length * G);
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < G; g++) out[d * G + g] = boxIoUXYWH(dts[d], gts[g], crowd[g] === 1);
  }
  return out;
}

export function rboxIoUMatrix(dts: readonly RotatedBox[], gts: readonly RotatedBox[], crowd: Uint8Array): Float64Array {
  const G = gts.length;
  const out = new Float64Array(dts.length * G);
  for (let d = 0; d < dts.length; d++) {
    for (let g = 0; g < G; g++) {
      out[d * G + g] = crowd[g] === 1 ? rotatedIoUCrowd(dts[d], gts[g]) : rotatedIoU(dts[d], gts[g]);
    }
  }
  return out;
}

/** An RLE with its bounding box and area computed once, for repeated IoUs. */
export interface PreparedRle {
  rle: Rle;
  area: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function prepareRle(rle: Rle): PreparedRle {
  const [x, y, w, h] = rleToBbox(rle);
  return { rle, area: rleArea(rle), x0: x, y0: y, x1: x + w, y1: y + h };
}

/**
 * Mask IoUs as pycocotools' `rleIou`: pairs whose bounding boxes do not overlap are 0 without
 * walking their runs.
 */
export function segmIoUMatrix(dts: readonly PreparedRle[], gts: readonly PreparedRle[], crowd: Uint8Array): Float64Array {
  const G = gts.length;
  const out = new Float64Array(dts.length * G);
  for (let d = 0; d < dts.length; d++) {
    const a = dts[d];
    for (let g = 0; g < G; g++) {
      const b = gts[g];
      if (Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) <= 0 || Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) <= 0) continue;
      const inter = rleIntersection(a.rle, b.rle);
      if (inter === 0) continue;
      out[d * G + g] = inter / (crowd[g] === 1 ? a.area : a.area + b.area - inter);
    }
  }
  return out;
}
