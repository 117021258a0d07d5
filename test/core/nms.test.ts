import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EmsegError,
  batchedNms,
  batchedNmsRotated,
  boxIoUXYXY,
  nms,
  nmsRotated,
  rotatedIoU,
  type BoxXYXY,
  type RotatedBox,
} from '../../core/index.ts';
import { type RotatedNmsCase, cocoFixture, readJson, seededRandom } from '../helpers/fixtures.ts';

type NmsCase = RotatedNmsCase;

/** Textbook greedy NMS written independently (O(n^2) over a full IoU matrix), as an oracle. */
function oracle<B>(boxes: B[], scores: number[], thr: number, iou: (a: B, b: B) => number): number[] {
  const idx = boxes.map((_, i) => i);
  const keep: number[] = [];
  const alive = new Set(idx);
  while (alive.size > 0) {
    let best = -1;
    for (const i of alive) if (best < 0 || scores[i] > scores[best] || (scores[i] === scores[best] && i < best)) best = i;
    keep.push(best);
    alive.delete(best);
    for (const j of [...alive]) if (iou(boxes[best], boxes[j]) > thr) alive.delete(j);
  }
  return keep;
}

describe('nmsRotated', () => {
  const cases = readJson<NmsCase[]>(cocoFixture('rotated_nms_cases.json'));

  it('keeps exactly the reference indices, in order, for every case and threshold', () => {
    for (const c of cases) {
      for (const thr of c.iou_thresholds) {
        assert.deepEqual(nmsRotated(c.boxes, c.scores, thr), c.keep[String(thr)], `${c.name} @ ${thr}`);
      }
    }
  });

  it('equals an independent greedy oracle on random overlapping rods', () => {
    const rand = seededRandom(3);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + Math.floor(rand() * 60);
      const boxes: RotatedBox[] = Array.from({ length: n }, () => [
        50 + rand() * 40, 50 + rand() * 40, 5 + rand() * 40, 2 + rand() * 8, rand() * 720 - 360,
      ]);
      // Coarse scores create many ties.
      const scores = boxes.map(() => Math.round(rand() * 5) / 5);
      for (const thr of [0, 0.1, 0.5, 0.9, 1]) {
        assert.deepEqual(nmsRotated(boxes, scores, thr), oracle(boxes, scores, thr, rotatedIoU), `trial ${trial} thr ${thr}`);
      }
    }
  });

  it('breaks score ties by the lower index and handles identical boxes, angle wrap and edge cases', () => {
    const box: RotatedBox = [10, 10, 20, 4, 30];
    assert.deepEqual(nmsRotated([box, box, box], [0.5, 0.5, 0.5], 0.5), [0]);
    // Same rectangle written with angle + 180 and with w/h swapped: suppressed (IoU 1).
    assert.deepEqual(nmsRotated([box, [10, 10, 20, 4, 210], [10, 10, 4, 20, 120]], [0.4, 0.9, 0.6], 0.99), [1]);
    // Threshold 1: IoU must exceed 1, so nothing is suppressed.
    assert.deepEqual(nmsRotated([box, box], [0.1, 0.2], 1), [1, 0]);
    // Disjoint boxes all kept, in score order.
    assert.deepEqual(nmsRotated([[0, 0, 2, 2, 0], [10, 0, 2, 2, 0], [20, 0, 2, 2, 0]], [0.1, 0.3, 0.2], 0.5), [1, 2, 0]);
    assert.deepEqual(nmsRotated([], [], 0.5), []);
  });

  it('suppresses only when IoU is strictly greater than the threshold', () => {
    // Two unit-height boxes overlapping by half their length: IoU exactly 1/3.
    const a: RotatedBox = [0, 0, 2, 1, 0];
    const b: RotatedBox = [1, 0, 2, 1, 0];
    assert.equal(rotatedIoU(a, b), 1 / 3);
    assert.deepEqual(nmsRotated([a, b], [1, 0.5], 1 / 3), [0, 1]);
    assert.deepEqual(nmsRotated([a, b], [1, 0.5], 0.33), [0]);
  });

  it('rejects NaN scores, non-finite boxes and bad thresholds with typed errors', () => {
    assert.throws(() => nmsRotated([[0, 0, 1, 1, 0]], [Number.NaN], 0.5), (e: unknown) => e instanceof EmsegError && /scores\[0\]/.test(e.message));
    assert.throws(() => nmsRotated([[0, 0, Number.NaN, 1, 0]], [1], 0.5), /boxes\[0\]/);
    assert.throws(() => nmsRotated([[0, 0, 1, 1, 0]], [1, 2], 0.5), /one per box/);
    assert.throws(() => nmsRotated([[0, 0, 1, 1, 0]], [1], 1.5), /iouThreshold/);
  });
});

describe('nms (axis-aligned) and class-aware variants', () => {
  it('equals the oracle on random boxes', () => {
    const rand = seededRandom(5);
    for (let trial = 0; trial < 30; trial++) {
      const n = Math.floor(rand() * 80);
      const boxes: BoxXYXY[] = Array.from({ length: n }, () => {
        const x = rand() * 100, y = rand() * 100;
        return [x, y, x + 1 + rand() * 30, y + 1 + rand() * 30];
      });
      const scores = boxes.map(() => Math.round(rand() * 10) / 10);
      for (const thr of [0.3, 0.5, 0.7]) assert.deepEqual(nms(boxes, scores, thr), oracle(boxes, scores, thr, boxIoUXYXY));
    }
  });

  it('never lets one class suppress another and returns indices by descending score', () => {
    const boxes: BoxXYXY[] = [[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]];
    const scores = [0.9, 0.8, 0.7, 0.95];
    assert.deepEqual(batchedNms(boxes, scores, [0, 1, 0, 1], 0.5), [3, 0, 1]);
    assert.deepEqual(nms(boxes, scores, 0.5), [3, 0]);
    const rboxes: RotatedBox[] = [[5, 5, 10, 2, 0], [5, 5, 10, 2, 180], [5, 5, 10, 2, 90]];
    assert.deepEqual(batchedNmsRotated(rboxes, [0.5, 0.6, 0.7], [1, 2, 1], 0.5), [2, 1, 0]);
    assert.deepEqual(batchedNmsRotated(rboxes, [0.5, 0.6, 0.7], [1, 1, 1], 0.5), [2, 1]);
  });
});
