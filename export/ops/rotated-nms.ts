import {
  EMSEG_DOMAIN,
  OpBuilder,
  attr,
  makeFunction,
  makeGraph,
  makeNode,
  tensorValueInfo,
  type FunctionProto,
  type NodeProto,
} from '../../onnx/index.ts';
import { clipByHalfPlane, shoelaceTwiceArea, type PolygonBatch } from './convex-clip.ts';
import { emitSinCos } from './fdlibm-trig.ts';

/**
 * `com.emseg::RotatedNMS`: greedy NMS of rotated boxes as an ONNX model-local function made of
 * standard opset-17 ops, so an exported model runs in any ONNX Runtime without a plug-in.
 *
 *   inputs   boxes          float32 [N, 5]  [cx, cy, w, h, angleDeg] (detectron2 XYWHA)
 *            scores         float32 [N]
 *            iou_threshold  float32 scalar  a box is suppressed when its IoU with a kept box is > this
 *            max_output     int64 scalar    keep at most this many (<= 0: none)
 *            classes        int64 [N]       class of each box: boxes of different classes never
 *                                           suppress each other (all equal: plain NMS)
 *   output   keep           int64 [K]       indices kept, in the order kept (no padding)
 *
 * It equals core/nms `batchedNmsRotated(boxes, scores, classes, iouThreshold)` (truncated to
 * max_output; with one class, `nmsRotated`) exactly,
 * not approximately: the function works in float64 and repeats the reference's arithmetic operation
 * for operation (same formulas, same order), so every IoU is the same double and every comparison
 * with the threshold goes the same way, ties and IoU == threshold included. Pieces:
 *
 * 1. Visit order: score descending, lower index first on ties, like the reference; TopK by score
 *    then TopK by a tie-free key, because TopK's order among equal scores is not guaranteed by every
 *    runtime (stableScoreOrder).
 * 2. Per box (in visit order): sin/cos of angle * pi/180 bit-equal to Math.sin/Math.cos (see
 *    fdlibm-trig.ts), half sizes, corner terms and the enclosing axis-aligned box.
 * 3. Candidate pairs (r, s), r visited before s, of the same class: enclosing boxes not separated and both boxes with
 *    w, h > 0 (the reference skips the others with IoU 0, so they can never suppress). NonZero lists
 *    them, so only overlapping pairs pay for clipping: usually a small part of the N x N pairs.
 * 4. IoU of each pair as core/geometry/rotated-iou.ts: both boxes translated to r's centre, r's
 *    quadrilateral clipped by s's four edges with a vectorised Sutherland-Hodgman (convex-clip.ts),
 *    shoelace area, clamped to the smaller box, inter / union.
 * 5. Suppression matrix, stored as its complement survives[r, s] = !(IoU > threshold) and
 *    survives[r, r] = 0 (ScatterND of the pairs into an N x N matrix of ones).
 * 6. Greedy: a Loop whose state is the float mask of boxes still alive; each iteration keeps the
 *    first alive box r (ArgMax returns the first maximum), emits it as a scan output and multiplies
 *    the mask by survives[r, :]; it stops when no box is alive or after max_output kept boxes. The
 *    first alive box is exactly the box the reference keeps next: every earlier box was either kept
 *    (and removed its suppressions) or suppressed. One iteration per kept box, O(N) each.
 *    With classes, the kept boxes come out in the order of batchedNmsRotated's merge (score
 *    descending, lower index first): one call does a detector's per-class NMS and its merge.
 *
 * Precision: the float32 inputs (threshold included) are widened to float64 exactly, so the function
 * sees the same numbers as `nmsRotated` called with the float32 values (e.g. threshold
 * Math.fround(0.7)), and computes in float64 as it does. In float32 the IoU of nearly equal or nearly
 * touching boxes would be off by ~1e-7 and flip comparisons near the threshold; even in float64, ONNX
 * Sin/Cos differ from Math.sin/cos in the last bit, which flips IoU == threshold cases of rotated
 * boxes (the tests catch it), hence fdlibm. Exactness rests on V8's fdlibm Math.sin/cos (Node 20) and
 * |angle| < 47 million degrees; signs of zero may differ (onnxruntime's Where drops -0), which no
 * comparison, product with a nonzero value or |area| can see.
 *
 * Inputs the reference rejects are not checked here: NaN scores or non-finite boxes give an
 * unspecified result; a threshold below 0 suppresses every box whose enclosing box meets a kept one's,
 * above 1 suppresses nothing.
 */
export const ROTATED_NMS_OP = 'RotatedNMS';
export const ROTATED_NMS_INPUTS = ['boxes', 'scores', 'iou_threshold', 'max_output', 'classes'] as const;
export const ROTATED_NMS_OUTPUTS = ['keep'] as const;

const DEG = Math.PI / 180;

/**
 * Stable visit order (int64 [N]): score descending, lower index first among equal scores.
 *
 * TopK sorts by score, but the order it gives equal scores is not specified by every runtime, so a
 * second TopK sorts by a key that has no ties: (index of the run of equal scores) * N + box index.
 * Runs are contiguous after the first sort, so the second one keeps runs in score order and puts each
 * run's boxes in index order, whatever the first did with ties. O(N log N), where counting the boxes
 * "visited before" each box would be N x N.
 */
export function stableScoreOrder(b: OpBuilder, scores: string, count: string): string {
  const k = b.unsqueeze(count, [0]);
  const [sorted, byScore] = b.opN('TopK', [scores, k], {
    attributes: [attr.int('axis', 0), attr.int('largest', 1), attr.int('sorted', 1)],
    outputs: 2,
    hint: 'by_score',
  });
  // newRun[k] = 1 where sorted[k] != sorted[k - 1] (and at k = 0); run index = cumulative sum - 1.
  const tail = b.slice(sorted, 0, 1, k);
  const head = b.slice(sorted, 0, 0, b.sub(k, b.int64s([1], 'one')));
  const newRun = b.concat([b.int64s([1], 'one'), b.cast(b.not(b.equal(tail, head)), 'int64')], 0);
  const run = b.sub(b.op('CumSum', [newRun, b.scalar('int64', 0)]), b.scalar('int64', 1));
  const key = b.add(b.mul(run, count), byScore);
  const [, position] = b.opN('TopK', [key, k], {
    attributes: [attr.int('axis', 0), attr.int('largest', 0), attr.int('sorted', 1)],
    outputs: 2,
    hint: 'by_key',
  });
  return b.gather(byScore, position, 0);
}

interface BoxGeometry {
  cx: string; cy: string; w: string; h: string;
  /**
   * Corner terms [4, N] (corner-major, see PolygonBatch) in corner order (-,-), (+,-), (+,+), (-,+):
   * u*c, v*s, u*s, v*c with u = +-w/2, v = +-h/2.
   */
  uc: string; vs: string; us: string; vc: string;
  x1: string; y1: string; x2: string; y2: string;
  positive: string;
}

/** core/geometry/rotated-box.ts `rotatedBoxCorners` terms and `rotatedBoxEnclosing`, per box. */
function boxGeometry(b: OpBuilder, boxes: string): BoxGeometry {
  const f = (v: number): string => b.scalar('float64', v);
  const column = (k: number): string => b.gather(boxes, b.scalar('int64', k), 1);
  const [cx, cy, w, h, angle] = [0, 1, 2, 3, 4].map(column);
  const { sin, cos } = emitSinCos(b, b.mul(angle, f(DEG)));
  const hw = b.div(w, f(2));
  const hh = b.div(h, f(2));
  // (+-hw) * c is +-(hw * c) exactly, so the corner signs can be applied after the product.
  const signsU = b.constant('float64', [4, 1], [-1, 1, 1, -1], 'sign_u');
  const signsV = b.constant('float64', [4, 1], [-1, -1, 1, 1], 'sign_v');
  const perCorner = (half: string, trig: string, signs: string): string => b.mul(b.unsqueeze(b.mul(half, trig), [0]), signs);
  const absC = b.abs(cos);
  const absS = b.abs(sin);
  const ex = b.div(b.add(b.mul(w, absC), b.mul(h, absS)), f(2));
  const ey = b.div(b.add(b.mul(w, absS), b.mul(h, absC)), f(2));
  return {
    cx, cy, w, h,
    uc: perCorner(hw, cos, signsU),
    vs: perCorner(hh, sin, signsV),
    us: perCorner(hw, sin, signsU),
    vc: perCorner(hh, cos, signsV),
    x1: b.sub(cx, ex), x2: b.add(cx, ex), y1: b.sub(cy, ey), y2: b.add(cy, ey),
    positive: b.and(b.greater(w, f(0)), b.greater(h, f(0))),
  };
}

/**
 * Pairs (r, s) whose IoU the reference computes: r before s in visit order, enclosing boxes not
 * separated (the reference skips s when x1_s > x2_r, x2_s < x1_r, y1_s > y2_r or y2_s < y1_r; the
 * bounds are finite, so "not greater" is "less or equal"), both boxes of positive size. A box
 * without area gets the empty interval [+inf, -inf] so that the overlap test itself excludes it:
 * fewer N x N passes. int64 [2, P].
 */
function candidatePairs(b: OpBuilder, g: BoxGeometry, indices: string, classes: string): string {
  const inf = b.scalar('float64', Infinity);
  const lower = (v: string): string => b.where(g.positive, v, inf);
  const upper = (v: string): string => b.where(g.positive, v, b.neg(inf));
  const [x1, y1, x2, y2] = [lower(g.x1), lower(g.y1), upper(g.x2), upper(g.y2)];
  const asR = (v: string): string => b.unsqueeze(v, [1]); // [N, 1]: the earlier (kept) box
  const asS = (v: string): string => b.unsqueeze(v, [0]); // [1, N]: the later box
  let mask = b.and(b.less(asR(indices), asS(indices)), b.equal(asR(classes), asS(classes)));
  mask = b.and(mask, b.lessOrEqual(asS(x1), asR(x2)));
  mask = b.and(mask, b.greaterOrEqual(asS(x2), asR(x1)));
  mask = b.and(mask, b.lessOrEqual(asS(y1), asR(y2)));
  mask = b.and(mask, b.greaterOrEqual(asS(y2), asR(y1)));
  return b.op('NonZero', [mask], [], 'pairs');
}

/** core/geometry/rotated-iou.ts `rotatedIoU(box r, box s)` for every pair: float64 [P]. */
function pairIoU(b: OpBuilder, g: BoxGeometry, r: string, s: string): string {
  const f = (v: number): string => b.scalar('float64', v);
  const perBoxR = (v: string): string => b.gather(v, r, 0);
  const perBoxS = (v: string): string => b.gather(v, s, 0);
  const cornersR = (v: string): string => b.gather(v, r, 1); // [4, N] -> [4, P]
  const cornersS = (v: string): string => b.gather(v, s, 1);
  // Translate both boxes so that r's centre is the origin: r's corners are then (0 + u*c) + v*s,
  // (0 - u*s) + v*c whatever the pair, s's use x0 = cx_s - cx_r, y0 = cy_s - cy_r.
  const subjectX = cornersR(b.add(b.add(f(0), g.uc), g.vs));
  const subjectY = cornersR(b.add(b.sub(f(0), g.us), g.vc));
  const x0 = b.unsqueeze(b.sub(perBoxS(g.cx), perBoxR(g.cx)), [0]);
  const y0 = b.unsqueeze(b.sub(perBoxS(g.cy), perBoxR(g.cy)), [0]);
  const clipX = b.add(b.add(x0, cornersS(g.uc)), cornersS(g.vs));
  const clipY = b.add(b.sub(y0, cornersS(g.us)), cornersS(g.vc));
  const corner = (xy: string, k: number): string => b.slice(xy, 0, k, k + 1); // [1, P]

  // clipConvexPolygon: orientation of the clip polygon from its signed area (sequential sum).
  let twice = f(0);
  for (let k = 0; k < 4; k++) {
    const n = (k + 1) % 4;
    twice = b.add(twice, b.sub(b.mul(corner(clipX, k), corner(clipY, n)), b.mul(corner(clipX, n), corner(clipY, k))));
  }
  const orientation = b.where(b.greaterOrEqual(b.div(twice, f(2)), f(0)), f(1), f(-1));

  let poly: PolygonBatch = {
    x: subjectX,
    y: subjectY,
    count: b.constant('int64', [1, 1], [4], 'four'),
    width: b.int64s([4], 'four'),
  };
  for (let k = 0; k < 4; k++) {
    const n = (k + 1) % 4;
    poly = clipByHalfPlane(b, poly, {
      ax: corner(clipX, k), ay: corner(clipY, k), bx: corner(clipX, n), by: corner(clipY, n),
    }, orientation);
  }
  const area = b.abs(b.div(shoelaceTwiceArea(b, poly), f(2)));
  const vertexCount = b.squeeze(poly.count, [0]);
  const areaR = perBoxR(b.mul(g.w, g.h));
  const areaS = perBoxS(b.mul(g.w, g.h));
  // Fewer than 3 vertices: no area. Clipping can overshoot by rounding: never above the smaller box.
  const inter = b.where(b.less(vertexCount, b.scalar('int64', 3)), f(0), b.min(area, areaR, areaS));
  const union = b.sub(b.add(areaR, areaS), inter);
  return b.where(b.and(b.greater(inter, f(0)), b.greater(union, f(0))), b.div(inter, union), f(0));
}

/**
 * Greedy selection: `survives` is float32 [N, N] in rank space, 0 where keeping r removes s (s
 * suppressed by r, or s = r). Returns the ranks kept, in order, at most `tripCount`. See step 6.
 */
export function greedyKeep(b: OpBuilder, survives: string, count: string, tripCount: string): string {
  const body = b.child('greedy');
  const iter = body.fresh('iter');
  const condIn = body.fresh('cond_in');
  const aliveIn = body.fresh('alive_in');
  // `survives` travels as loop-carried state instead of being read from the enclosing scope:
  // onnxruntime-web's WebGPU provider (1.30) read the wrong matrix when a model inlines the
  // function twice (two classes) and both Loop bodies captured their outer `survives`.
  const survivesIn = body.fresh('survives_in');
  // ArgMax of the [1, N] view along axis 1: onnxruntime-web's WebGPU ArgMax shader does not compile
  // for 1-D inputs ("cannot index type 'u32'", ORT 1.30).
  const next = body.squeeze(body.op('ArgMax', [body.unsqueeze(aliveIn, [0])], [attr.int('axis', 1), attr.int('keepdims', 0)], 'next'), [0]);
  const aliveOut = body.opTo(body.fresh('alive_out'), 'Mul', [aliveIn, body.gather(survivesIn, next, 0)]);
  const anyAlive = body.greater(body.reduceMax(aliveOut, [0], false), body.scalar('float32', 0));
  const condOut = body.opTo(body.fresh('cond_out'), 'Identity', [anyAlive]);
  const survivesOut = body.opTo(body.fresh('survives_out'), 'Identity', [survivesIn]);
  const keptOut = body.opTo(body.fresh('kept'), 'Identity', [next]);
  const graph = makeGraph({
    name: body.prefix + 'body',
    nodes: body.nodes,
    inputs: [tensorValueInfo(iter, 'int64', []), tensorValueInfo(condIn, 'bool', []), tensorValueInfo(aliveIn, 'float32', [null]), tensorValueInfo(survivesIn, 'float32', [null, null])],
    outputs: [tensorValueInfo(condOut, 'bool', []), tensorValueInfo(aliveOut, 'float32', [null]), tensorValueInfo(survivesOut, 'float32', [null, null]), tensorValueInfo(keptOut, 'int64', [])],
  });
  const alive = b.filled(b.unsqueeze(count, [0]), 'float32', 1);
  const anyBox = b.greater(count, b.scalar('int64', 0));
  const [, , kept] = b.opN('Loop', [tripCount, anyBox, alive, survives], { attributes: [attr.graph('body', graph)], outputs: 3, hint: 'greedy' });
  return kept;
}

/** The FunctionProto defining `com.emseg::RotatedNMS`; attach it to any model that calls the op. */
export function rotatedNmsFunction(): FunctionProto {
  const b = new OpBuilder('rnms_');
  const [boxesIn, scoresIn, thresholdIn, maxOutputIn, classesIn] = ROTATED_NMS_INPUTS;
  const scalarShape = b.constant('int64', [0], [], 'scalar_shape');
  const count = b.squeeze(b.shape(scoresIn), [0]);
  const indices = b.range(count);

  const order = stableScoreOrder(b, scoresIn, count);
  const geometry = boxGeometry(b, b.gather(b.cast(boxesIn, 'float64'), order, 0));
  const pairs = candidatePairs(b, geometry, indices, b.gather(classesIn, order, 0));
  const r = b.gather(pairs, b.scalar('int64', 0), 0);
  const s = b.gather(pairs, b.scalar('int64', 1), 0);
  const threshold = b.cast(b.reshape(thresholdIn, scalarShape), 'float64');
  const pairSuppresses = b.greater(pairIoU(b, geometry, r, s), threshold);

  // survives[r, s] = 0 when keeping r removes s: s suppressed by r, or s = r itself. Written as
  // float32 (the greedy loop multiplies its alive mask by a row) by one sparse scatter (the pairs,
  // then the diagonal) over a matrix of ones, so the only N x N work is the fill.
  const square = b.concat([b.unsqueeze(count, [0]), b.unsqueeze(count, [0])], 0);
  const diagonal = b.concat([b.unsqueeze(indices, [1]), b.unsqueeze(indices, [1])], 1);
  const updates = b.concat([b.cast(b.not(pairSuppresses), 'float32'), b.filled(b.unsqueeze(count, [0]), 'float32', 0)], 0);
  const survives = b.op('ScatterND', [b.filled(square, 'float32', 1), b.concat([b.op('Transpose', [pairs]), diagonal], 0), updates]);

  const limit = b.reshape(maxOutputIn, scalarShape);
  const tripCount = b.max(b.min(limit, count), b.scalar('int64', 0));
  const keptRanks = greedyKeep(b, survives, count, tripCount);
  b.opTo(ROTATED_NMS_OUTPUTS[0], 'Gather', [order, keptRanks], [attr.int('axis', 0)]);

  return makeFunction({
    domain: EMSEG_DOMAIN,
    name: ROTATED_NMS_OP,
    inputs: ROTATED_NMS_INPUTS,
    outputs: ROTATED_NMS_OUTPUTS,
    nodes: b.nodes,
    docString: 'Greedy NMS of rotated boxes [cx, cy, w, h, angleDeg], equal to emseg core nmsRotated.',
  });
}

/** A node calling `com.emseg::RotatedNMS` (the model must carry `rotatedNmsFunction()`). */
export function rotatedNmsNode(
  inputs: { boxes: string; scores: string; iouThreshold: string; maxOutput: string; classes: string },
  keep: string,
  name = 'rotated_nms',
): NodeProto {
  return makeNode(ROTATED_NMS_OP, [inputs.boxes, inputs.scores, inputs.iouThreshold, inputs.maxOutput, inputs.classes], [keep], {
    name,
    domain: EMSEG_DOMAIN,
  });
}
