import { clipConvexPolygon, polygonArea } from './polygon.ts';
import { rotatedBoxCorners, rotatedBoxEnclosing } from './rotated-box.ts';
import type { Point, RotatedBox } from './types.ts';

/**
 * Exact area of the intersection of two rotated boxes (convex polygon clipping).
 * Both boxes are first translated so that `a`'s centre is the origin: corner coordinates then stay
 * small and the shoelace sum does not lose digits to cancellation (a 2x1 box at x = 800 would
 * otherwise keep only ~10 significant digits).
 */
export function rotatedIntersectionArea(a: RotatedBox, b: RotatedBox): number {
  if (!(a[2] > 0 && a[3] > 0 && b[2] > 0 && b[3] > 0)) return 0;
  // Cheap rejection on the enclosing axis-aligned boxes.
  const ea = rotatedBoxEnclosing(a);
  const eb = rotatedBoxEnclosing(b);
  if (ea[0] > eb[2] || eb[0] > ea[2] || ea[1] > eb[3] || eb[1] > ea[3]) return 0;
  const origin: Point = [a[0], a[1]];
  const pa = rotatedBoxCorners(a, origin);
  const pb = rotatedBoxCorners(b, origin);
  const inter = clipConvexPolygon(pa, pb);
  if (inter.length < 3) return 0;
  // Clipping can overshoot by rounding; the intersection never exceeds the smaller box.
  return Math.min(polygonArea(inter), a[2] * a[3], b[2] * b[3]);
}

/**
 * Intersection over union of two rotated boxes, exact up to floating-point rounding (~1e-15
 * relative). Boxes with zero or negative width/height have no area and give 0.
 */
export function rotatedIoU(a: RotatedBox, b: RotatedBox): number {
  const inter = rotatedIntersectionArea(a, b);
  if (inter <= 0) return 0;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Intersection over the area of `dt` alone: COCO's IoU against a crowd region, where a detection
 * inside the crowd counts as fully matched.
 */
export function rotatedIoUCrowd(dt: RotatedBox, crowd: RotatedBox): number {
  const inter = rotatedIntersectionArea(dt, crowd);
  if (inter <= 0) return 0;
  return inter / (dt[2] * dt[3]);
}
