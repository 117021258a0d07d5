import { attr, makeGraph, tensorValueInfo, type OpBuilder } from '../../onnx/index.ts';

/**
 * A batch of P convex polygons with a variable vertex count, padded to a common width M, stored
 * vertex-major: `x`, `y` are float64 [M, P], column p holds polygon p (rows 0..count-1 in order,
 * then padding); `count` is int64 [1, P]; `width` is M as an int64 [1] tensor. Vertex-major because
 * per-polygon values ([1, P]) then broadcast over long contiguous rows, which onnxruntime does with
 * one vectorised call per row instead of one call per polygon.
 */
export interface PolygonBatch {
  x: string;
  y: string;
  count: string;
  width: string;
}

/** Vertex slot indices `[[0], [1], ..., [M-1]]` (int64 [M, 1]) of a polygon batch. */
function slotIndices(b: OpBuilder, poly: PolygonBatch): string {
  return b.unsqueeze(b.range(b.squeeze(poly.width, [0])), [1]);
}

/**
 * Clip every polygon of the batch by the half-plane left of the directed line (ax, ay) -> (bx, by)
 * (each [1, P]), multiplied by `orientation` (+1 or -1, [1, P]) as core/geometry/polygon.ts
 * `clipConvexPolygon` does for one edge of the clip polygon, with the same arithmetic in the same
 * order so every vertex comes out bit for bit the same:
 *
 *   side(p) = orientation * (ex * (p.y - ay) - ey * (p.x - ax))      (>= 0 is inside)
 *   for each vertex cur with predecessor prev (cyclic):
 *     cur inside:  [intersection if prev outside], cur
 *     cur outside: [intersection if prev inside]
 *   intersection = prev + t * (cur - prev), t = side(prev) / (side(prev) - side(cur))
 *
 * Vectorised: every vertex yields two candidates (intersection, cur) with emit flags; an exclusive
 * cumulative sum of the flags gives each emitted candidate its output slot, and two ScatterElements
 * (intersections, then vertices) compact them; candidates not emitted go to a spare row that is
 * sliced off. The output width is the largest count in the batch, computed at run time, so no vertex
 * is ever dropped: in exact arithmetic a convex polygon gains at most one vertex per clip, but
 * rounding near a nearly collinear edge can make side() alternate in sign, and the reference then
 * emits more; so does this.
 */
export function clipByHalfPlane(
  b: OpBuilder,
  poly: PolygonBatch,
  line: { ax: string; ay: string; bx: string; by: string },
  orientation: string,
): PolygonBatch {
  const zero = b.scalar('float64', 0);
  const ex = b.sub(line.bx, line.ax);
  const ey = b.sub(line.by, line.ay);
  const side = (px: string, py: string): string =>
    b.mul(orientation, b.sub(b.mul(ex, b.sub(py, line.ay)), b.mul(ey, b.sub(px, line.ax))));

  const j = slotIndices(b, poly);
  const valid = b.less(j, poly.count);
  // prev = input[(j + m - 1) % m]: j - 1, or count - 1 for the first vertex.
  const one = b.scalar('int64', 1);
  // Expand: GatherElements needs one index per element, and count may be a broadcast [1, 1].
  const prevIndex = b.op('Expand', [
    b.where(b.equal(j, b.scalar('int64', 0)), b.sub(poly.count, one), b.sub(j, one)),
    b.shape(poly.x),
  ]);
  const sc = side(poly.x, poly.y);
  const sp = b.gatherElements(sc, prevIndex, 0);
  const px = b.gatherElements(poly.x, prevIndex, 0);
  const py = b.gatherElements(poly.y, prevIndex, 0);

  const curInside = b.greaterOrEqual(sc, zero);
  const prevInside = b.greaterOrEqual(sp, zero);
  const emitCrossing = b.and(valid, b.op('Xor', [curInside, prevInside]));
  const emitCurrent = b.and(valid, curInside);
  const t = b.div(sp, b.sub(sp, sc));
  const ix = b.add(px, b.mul(t, b.sub(poly.x, px)));
  const iy = b.add(py, b.mul(t, b.sub(poly.y, py)));

  const crossingFlag = b.cast(emitCrossing, 'int64');
  const emitted = b.add(crossingFlag, b.cast(emitCurrent, 'int64'));
  const start = b.op('CumSum', [emitted, b.scalar('int64', 0)], [attr.int('exclusive', 1)]);
  const count = b.reduceSum(emitted, [0], true);
  // Width of the result: the largest count (0 for an empty batch, where ReduceMax has no elements).
  const width = b.reduceMax(b.concat([b.reshape(count, b.int64s([-1], 'flat')), b.int64s([0], 'zero')], 0), [0], true);
  const spare = width;
  const crossingPos = b.where(emitCrossing, start, spare);
  const currentPos = b.where(emitCurrent, b.add(start, crossingFlag), spare);

  const canvasShape = b.concat([b.add(width, b.int64s([1], 'one')), b.shape(poly.x, 1, 2)], 0);
  const compact = (crossings: string, currents: string): string => {
    const canvas = b.filled(canvasShape, 'float64', 0);
    const withCrossings = b.op('ScatterElements', [canvas, crossingPos, crossings], [attr.int('axis', 0)]);
    const scattered = b.op('ScatterElements', [withCrossings, currentPos, currents], [attr.int('axis', 0)]);
    return b.slice(scattered, 0, 0, width);
  };
  return { x: compact(ix, poly.x), y: compact(iy, poly.y), count, width };
}

/**
 * Signed shoelace sum `sum_i x_i * y_{i+1} - x_{i+1} * y_i` of every polygon (float64 [P]), added
 * left to right in vertex order exactly as core/geometry/polygon.ts `signedPolygonArea` does (a
 * ReduceSum may add in another order and differ in the last bit), hence a Loop over the vertex slots.
 */
export function shoelaceTwiceArea(b: OpBuilder, poly: PolygonBatch): string {
  const j = slotIndices(b, poly);
  const valid = b.less(j, poly.count);
  const next = b.add(j, b.scalar('int64', 1));
  const nextIndex = b.op('Expand', [b.where(b.greaterOrEqual(next, poly.count), b.scalar('int64', 0), next), b.shape(poly.x)]);
  const xn = b.gatherElements(poly.x, nextIndex, 0);
  const yn = b.gatherElements(poly.y, nextIndex, 0);
  const terms = b.where(valid, b.sub(b.mul(poly.x, yn), b.mul(xn, poly.y)), b.scalar('float64', 0));

  // Loop body: acc <- acc + terms[iter, :]. Padding terms are exactly 0 and leave acc unchanged.
  const body = b.child('shoelace');
  const iter = body.fresh('iter');
  const condIn = body.fresh('cond_in');
  const accIn = body.fresh('acc_in');
  const condOut = body.opTo(body.fresh('cond_out'), 'Identity', [condIn]);
  const accOut = body.opTo(body.fresh('acc_out'), 'Add', [accIn, body.gather(terms, iter, 0)]);
  const graph = makeGraph({
    name: body.prefix + 'body',
    nodes: body.nodes,
    inputs: [tensorValueInfo(iter, 'int64', []), tensorValueInfo(condIn, 'bool', []), tensorValueInfo(accIn, 'float64', [null])],
    outputs: [tensorValueInfo(condOut, 'bool', []), tensorValueInfo(accOut, 'float64', [null])],
  });
  const initial = b.filled(b.shape(poly.x, 1, 2), 'float64', 0);
  return b.op('Loop', [b.squeeze(poly.width, [0]), b.scalar('bool', true), initial], [attr.graph('body', graph)], 'twice_area');
}
