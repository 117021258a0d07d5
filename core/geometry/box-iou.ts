import type { BoxXYWH, BoxXYXY } from './types.ts';

/**
 * IoU of two COCO boxes `[x, y, w, h]`, computed exactly as pycocotools' `bbIou` does (same operation
 * order, so results are bit-identical). With `crowd`, the union is the area of `dt` alone.
 */
export function boxIoUXYWH(dt: BoxXYWH, gt: BoxXYWH, crowd = false): number {
  const w = Math.min(dt[2] + dt[0], gt[2] + gt[0]) - Math.max(dt[0], gt[0]);
  if (w <= 0) return 0;
  const h = Math.min(dt[3] + dt[1], gt[3] + gt[1]) - Math.max(dt[1], gt[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const da = dt[2] * dt[3];
  const union = crowd ? da : da + gt[2] * gt[3] - inter;
  return inter / union;
}

/** IoU of two corner boxes `[x1, y1, x2, y2]` (torchvision's `box_iou` convention; 0 when disjoint). */
export function boxIoUXYXY(a: BoxXYXY, b: BoxXYXY): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  if (w <= 0) return 0;
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export function xywhToXyxy(b: BoxXYWH): BoxXYXY {
  return [b[0], b[1], b[0] + b[2], b[1] + b[3]];
}

export function xyxyToXywh(b: BoxXYXY): BoxXYWH {
  return [b[0], b[1], b[2] - b[0], b[3] - b[1]];
}
