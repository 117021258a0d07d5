import { EMSEG_DOMAIN, OpBuilder, attr, makeFunction, makeNode, type FunctionProto, type NodeProto } from '../../onnx/index.ts';
import { greedyKeep, stableScoreOrder } from './rotated-nms.ts';

/**
 * `com.emseg::BoxNMS`: greedy NMS of axis-aligned boxes [x1, y1, x2, y2], equal to core/nms
 * `batchedNms` (truncated to max_output; with one class, `nms`), as a model-local function of
 * standard ops. Same inputs and output as com.emseg::RotatedNMS (boxes float32 [N, 4], scores [N],
 * iou_threshold [], max_output [], classes int64 [N]; keep int64 [K] in the order kept).
 *
 * Why not ONNX NonMaxSuppression: its IoU is float32 and its order among equal scores is left to
 * the runtime, so kept boxes could differ from the tfjs reference near the threshold and on ties.
 * Here the IoU is core/geometry `boxIoUXYXY` operation for operation in float64 (symmetric in its
 * two boxes, so one dense N x N matrix serves), the visit order is score descending with the lower
 * index first, and the greedy loop is RotatedNMS's (rotated-nms.ts, steps 5 and 6).
 */
export const BOX_NMS_OP = 'BoxNMS';
const INPUTS = ['boxes', 'scores', 'iou_threshold', 'max_output', 'classes'] as const;
const OUTPUTS = ['keep'] as const;

export function boxNmsFunction(): FunctionProto {
  const b = new OpBuilder('bnms_');
  const [boxesIn, scoresIn, thresholdIn, maxOutputIn, classesIn] = INPUTS;
  const f = (v: number): string => b.scalar('float64', v);
  const scalarShape = b.constant('int64', [0], [], 'scalar_shape');
  const count = b.squeeze(b.shape(scoresIn), [0]);
  const order = stableScoreOrder(b, scoresIn, count);
  const boxes = b.gather(b.cast(boxesIn, 'float64'), order, 0);
  const col = (k: number): string => b.gather(boxes, b.scalar('int64', k), 1);
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(col);
  const rows = (v: string): string => b.unsqueeze(v, [1]);
  const cols = (v: string): string => b.unsqueeze(v, [0]);
  // boxIoUXYXY(a, b): w = min(x2) - max(x1), h likewise; 0 unless w > 0 and h > 0.
  const w = b.sub(b.min(rows(x2), cols(x2)), b.max(rows(x1), cols(x1)));
  const h = b.sub(b.min(rows(y2), cols(y2)), b.max(rows(y1), cols(y1)));
  const overlaps = b.and(b.greater(w, f(0)), b.greater(h, f(0)));
  const inter = b.mul(w, h);
  const area = b.mul(b.sub(x2, x1), b.sub(y2, y1));
  const union = b.sub(b.add(rows(area), cols(area)), inter);
  const iou = b.where(b.and(overlaps, b.greater(union, f(0))), b.div(inter, union), f(0));
  const threshold = b.cast(b.reshape(thresholdIn, scalarShape), 'float64');
  const classes = b.gather(classesIn, order, 0);
  const sameClass = b.equal(rows(classes), cols(classes));
  // survives[r, s] = 0 when keeping r removes s (same class and IoU > threshold, or s = r). Entries with s before r
  // are never read with effect: the greedy loop only visits r after every earlier box is decided.
  const n1 = b.unsqueeze(count, [0]);
  const identity = b.op('EyeLike', [b.filled(b.concat([n1, n1], 0), 'float32', 0)]);
  const survives = b.mul(b.cast(b.not(b.and(sameClass, b.greater(iou, threshold))), 'float32'), b.sub(b.scalar('float32', 1), identity));
  const limit = b.reshape(maxOutputIn, scalarShape);
  const tripCount = b.max(b.min(limit, count), b.scalar('int64', 0));
  b.opTo(OUTPUTS[0], 'Gather', [order, greedyKeep(b, survives, count, tripCount)], [attr.int('axis', 0)]);
  return makeFunction({
    domain: EMSEG_DOMAIN,
    name: BOX_NMS_OP,
    inputs: INPUTS,
    outputs: OUTPUTS,
    nodes: b.nodes,
    docString: 'Greedy NMS of axis-aligned boxes [x1, y1, x2, y2], equal to emseg core nms.',
  });
}

/** A node calling `com.emseg::BoxNMS` (the model must carry `boxNmsFunction()`). */
export function boxNmsNode(inputs: { boxes: string; scores: string; iouThreshold: string; maxOutput: string; classes: string }, keep: string, name = 'box_nms'): NodeProto {
  return makeNode(BOX_NMS_OP, [inputs.boxes, inputs.scores, inputs.iouThreshold, inputs.maxOutput, inputs.classes], [keep], { name, domain: EMSEG_DOMAIN });
}
