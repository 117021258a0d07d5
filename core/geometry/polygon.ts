import type { Point } from './types.ts';

/** Signed shoelace area: positive for counter-clockwise vertices in a y-up frame. */
export function signedPolygonArea(poly: readonly Point[]): number {
  let twice = 0;
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    const [x1, y1] = poly[i];
    const [x2, y2] = poly[(i + 1) % n];
    twice += x1 * y2 - x2 * y1;
  }
  return twice / 2;
}

export function polygonArea(poly: readonly Point[]): number {
  return Math.abs(signedPolygonArea(poly));
}

/**
 * Intersection of two convex polygons by Sutherland-Hodgman clipping of `subject` against each edge
 * of `clip`. Both must be convex; either orientation works (the clip polygon's orientation is
 * detected). Points on a clip edge count as inside, so touching polygons give a degenerate polygon
 * of (near-)zero area rather than a spurious gap, and identical polygons give themselves.
 * Written by hand because it is ~40 lines and sits in the inner loop of NMS and evaluation, where a
 * general polygon-boolean library would cost allocations and orders of magnitude in speed.
 */
export function clipConvexPolygon(subject: readonly Point[], clip: readonly Point[]): Point[] {
  const orientation = signedPolygonArea(clip) >= 0 ? 1 : -1;
  let output: Point[] = subject.slice();
  const n = clip.length;
  for (let i = 0; i < n && output.length > 0; i++) {
    const [ax, ay] = clip[i];
    const [bx, by] = clip[(i + 1) % n];
    const ex = bx - ax;
    const ey = by - ay;
    // side > 0: inside (left of the edge for a counter-clockwise clip polygon).
    const side = (p: Point): number => orientation * (ex * (p[1] - ay) - ey * (p[0] - ax));
    const input = output;
    output = [];
    const m = input.length;
    for (let j = 0; j < m; j++) {
      const cur = input[j];
      const prev = input[(j + m - 1) % m];
      const sc = side(cur);
      const sp = side(prev);
      if (sc >= 0) {
        if (sp < 0) output.push(intersect(prev, cur, sp, sc));
        output.push(cur);
      } else if (sp >= 0) {
        output.push(intersect(prev, cur, sp, sc));
      }
    }
  }
  return output;
}

/** Point where segment p->q crosses the clip line, given their signed distances sp, sq (opposite signs). */
function intersect(p: Point, q: Point, sp: number, sq: number): Point {
  const t = sp / (sp - sq);
  return [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
}
