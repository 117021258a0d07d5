import { canonicalRotatedBox } from './rotated-box.ts';
import type { Point, RotatedBox } from './types.ts';

/** Convex hull (Andrew's monotone chain), counter-clockwise in a y-up frame, no collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * Minimum-area enclosing rectangle of a point set (rotating calipers over the hull's edges: the
 * optimum has a side on a hull edge), as a canonical rotated box (w >= h, angle in [-90, 90)).
 * Degenerate inputs (fewer than 3 hull points) give a zero-height box along the points.
 */
export function minAreaRect(points: readonly Point[]): RotatedBox {
  const hull = convexHull(points);
  if (hull.length === 0) return [0, 0, 0, 0, 0];
  if (hull.length < 3) {
    const [a, b] = [hull[0], hull[hull.length - 1]];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const angle = (Math.atan2(-(b[1] - a[1]), b[0] - a[0]) * 180) / Math.PI;
    return canonicalRotatedBox([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, len, 0, angle]);
  }
  let best: RotatedBox | null = null;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const p = hull[i], q = hull[(i + 1) % hull.length];
    const len = Math.hypot(q[0] - p[0], q[1] - p[1]);
    if (len === 0) continue;
    const ux = (q[0] - p[0]) / len, uy = (q[1] - p[1]) / len; // edge direction (image coordinates)
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const h of hull) {
      const u = h[0] * ux + h[1] * uy;
      const v = -h[0] * uy + h[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea - 1e-12) {
      bestArea = area;
      const cu = (minU + maxU) / 2, cv = (minV + maxV) / 2;
      const cx = cu * ux - cv * uy, cy = cu * uy + cv * ux;
      // XYWHA: the box's u axis points (cos t, -sin t) in image coordinates (angle CCW as displayed).
      const angle = (Math.atan2(-uy, ux) * 180) / Math.PI;
      best = [cx, cy, maxU - minU, maxV - minV, angle];
    }
  }
  return canonicalRotatedBox(best!);
}
