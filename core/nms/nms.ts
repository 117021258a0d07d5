import { invalidArgument } from '../errors.ts';
import { boxIoUXYXY } from '../geometry/box-iou.ts';
import { rotatedBoxEnclosing } from '../geometry/rotated-box.ts';
import { rotatedIoU } from '../geometry/rotated-iou.ts';
import type { BoxXYXY, RotatedBox } from '../geometry/types.ts';

/**
 * Order in which greedy NMS visits boxes: score descending, ties broken by the lower index first
 * (a stable sort), so the result never depends on the sort implementation.
 */
export function scoreOrder(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((i, j) => scores[j] - scores[i] || i - j);
  return order;
}

function checkInputs(name: string, boxCount: number, scores: ArrayLike<number>, iouThreshold: number): void {
  if (scores.length !== boxCount) {
    throw invalidArgument(`${name} scores`, `${boxCount} scores (one per box)`, scores.length);
  }
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw invalidArgument(`${name} scores[${i}]`, 'a number', scores[i]);
  }
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw invalidArgument(`${name} iouThreshold`, 'a number in [0, 1]', iouThreshold);
  }
}

/**
 * Greedy NMS over any IoU: visit in `scoreOrder`, keep a box unless its IoU with an already kept
 * box is > `iouThreshold`. `bounds` (xyxy per box) lets disjoint pairs skip the IoU call.
 */
function greedyNms(
  count: number,
  scores: ArrayLike<number>,
  iouThreshold: number,
  iou: (i: number, j: number) => number,
  bounds: Float64Array,
): number[] {
  const order = scoreOrder(scores);
  const suppressed = new Uint8Array(count);
  const keep: number[] = [];
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    const ix1 = bounds[4 * i], iy1 = bounds[4 * i + 1], ix2 = bounds[4 * i + 2], iy2 = bounds[4 * i + 3];
    for (let oj = oi + 1; oj < order.length; oj++) {
      const j = order[oj];
      if (suppressed[j]) continue;
      if (bounds[4 * j] > ix2 || bounds[4 * j + 2] < ix1 || bounds[4 * j + 1] > iy2 || bounds[4 * j + 3] < iy1) continue;
      if (iou(i, j) > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}

function checkFinite(name: string, index: number, box: readonly number[], length: number): void {
  if (box.length !== length || !box.every(Number.isFinite)) {
    throw invalidArgument(`${name} boxes[${index}]`, `an array of ${length} finite numbers`, box);
  }
}

/** Greedy NMS of axis-aligned `[x1, y1, x2, y2]` boxes; returns kept indices in the order kept. */
export function nms(boxes: readonly BoxXYXY[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  checkInputs('nms', boxes.length, scores, iouThreshold);
  const bounds = new Float64Array(boxes.length * 4);
  boxes.forEach((b, i) => {
    checkFinite('nms', i, b, 4);
    bounds.set(b, 4 * i);
  });
  return greedyNms(boxes.length, scores, iouThreshold, (i, j) => boxIoUXYXY(boxes[i], boxes[j]), bounds);
}

/**
 * Greedy NMS of rotated boxes `[cx, cy, w, h, angleDeg]` with exact polygon IoU; returns kept
 * indices in the order kept. This is the reference the exported ONNX `RotatedNMS` must equal.
 */
export function nmsRotated(boxes: readonly RotatedBox[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  checkInputs('nmsRotated', boxes.length, scores, iouThreshold);
  const bounds = new Float64Array(boxes.length * 4);
  boxes.forEach((b, i) => {
    checkFinite('nmsRotated', i, b, 5);
    bounds.set(rotatedBoxEnclosing(b), 4 * i);
  });
  return greedyNms(boxes.length, scores, iouThreshold, (i, j) => rotatedIoU(boxes[i], boxes[j]), bounds);
}

/**
 * Class-aware NMS: boxes of different classes never suppress each other. Returns kept indices
 * sorted by score descending (ties: lower index first), like detectron2's `batched_nms`.
 */
function batched<B>(
  run: (boxes: readonly B[], scores: number[], thr: number) => number[],
  boxes: readonly B[],
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  iouThreshold: number,
): number[] {
  if (classes.length !== boxes.length) {
    throw invalidArgument('batched NMS classes', `${boxes.length} class ids (one per box)`, classes.length);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < boxes.length; i++) {
    const members = groups.get(classes[i]);
    if (members) members.push(i);
    else groups.set(classes[i], [i]);
  }
  const keep: number[] = [];
  for (const members of groups.values()) {
    const kept = run(members.map((i) => boxes[i]), members.map((i) => scores[i]), iouThreshold);
    for (const k of kept) keep.push(members[k]);
  }
  keep.sort((i, j) => scores[j] - scores[i] || i - j);
  return keep;
}

export function batchedNms(
  boxes: readonly BoxXYXY[],
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  iouThreshold: number,
): number[] {
  checkInputs('batchedNms', boxes.length, scores, iouThreshold);
  return batched(nms, boxes, scores, classes, iouThreshold);
}

export function batchedNmsRotated(
  boxes: readonly RotatedBox[],
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  iouThreshold: number,
): number[] {
  checkInputs('batchedNmsRotated', boxes.length, scores, iouThreshold);
  return batched(nmsRotated, boxes, scores, classes, iouThreshold);
}
