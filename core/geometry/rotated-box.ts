import type { BoxXYXY, Point, RotatedBox } from './types.ts';

const DEG = Math.PI / 180;

/**
 * The four corners of a rotated box, in order around the rectangle
 * ((-w/2,-h/2), (+w/2,-h/2), (+w/2,+h/2), (-w/2,+h/2) in the box frame). `offset` is subtracted
 * from every corner: IoU code translates to a local origin to avoid cancellation on large
 * coordinates.
 */
export function rotatedBoxCorners(box: RotatedBox, offset: Point = [0, 0]): Point[] {
  const [cx, cy, w, h, angle] = box;
  const t = angle * DEG;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const x0 = cx - offset[0];
  const y0 = cy - offset[1];
  const hw = w / 2;
  const hh = h / 2;
  const corner = (u: number, v: number): Point => [x0 + u * c + v * s, y0 - u * s + v * c];
  return [corner(-hw, -hh), corner(hw, -hh), corner(hw, hh), corner(-hw, hh)];
}

/** Smallest axis-aligned box `[x1, y1, x2, y2]` containing the rotated box. */
export function rotatedBoxEnclosing(box: RotatedBox): BoxXYXY {
  const [cx, cy, w, h, angle] = box;
  const t = angle * DEG;
  const c = Math.abs(Math.cos(t));
  const s = Math.abs(Math.sin(t));
  // Half-extents of the rotated rectangle projected on the axes.
  const ex = (w * c + h * s) / 2;
  const ey = (w * s + h * c) / 2;
  return [cx - ex, cy - ey, cx + ex, cy + ey];
}

/** Angle wrapped into [-180, 180), the range detectron2 uses. */
export function normalizeAngle(angleDeg: number): number {
  let a = angleDeg % 360;
  if (a >= 180) a -= 360;
  else if (a < -180) a += 360;
  return a;
}

/**
 * One canonical parameterisation of a rectangle: angle in [-90, 90) with w >= h swapped in when needed
 * (a rectangle is unchanged by angle +-180, and by swapping w/h with angle +-90). Useful to compare boxes
 * and to regress angles without the +-180 ambiguity.
 */
export function canonicalRotatedBox(box: RotatedBox): RotatedBox {
  const [cx, cy] = box;
  let [, , w, h, a] = box;
  if (h > w) {
    [w, h] = [h, w];
    a += 90;
  }
  a = normalizeAngle(a);
  if (a >= 90) a -= 180;
  else if (a < -90) a += 180;
  return [cx, cy, w, h, a];
}

/** Area of a rotated box (w * h; negative sizes are treated as empty). */
export function rotatedBoxArea(box: RotatedBox): number {
  return Math.max(box[2], 0) * Math.max(box[3], 0);
}

/** A rotated box with angle 0 covering the axis-aligned box. */
export function rotatedBoxFromXYXY(box: BoxXYXY): RotatedBox {
  const [x1, y1, x2, y2] = box;
  return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, 0];
}
