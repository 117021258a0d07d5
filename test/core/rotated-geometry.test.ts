import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalRotatedBox,
  clipConvexPolygon,
  normalizeAngle,
  polygonArea,
  rotatedBoxCorners,
  rotatedBoxEnclosing,
  rotatedIntersectionArea,
  rotatedIoU,
  rotatedIoUCrowd,
  type RotatedBox,
} from '../../core/index.ts';
import { cocoFixture, readJson, seededRandom } from '../helpers/fixtures.ts';

interface Pair {
  kind: string;
  box1: RotatedBox;
  box2: RotatedBox;
  iou: number;
  inter: number;
}

const close = (a: number, b: number, tol: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} expected ${b}, got ${a} (diff ${Math.abs(a - b)})`);

describe('rotated boxes (detectron2 XYWHA)', () => {
  it('places corners counter-clockwise as displayed (x right, y down)', () => {
    // A 4x2 box turned 90 degrees CCW on screen stands upright: 2 wide, 4 tall.
    const c = rotatedBoxCorners([10, 20, 4, 2, 90]);
    const xs = c.map((p) => p[0]);
    const ys = c.map((p) => p[1]);
    close(Math.max(...xs) - Math.min(...xs), 2, 1e-12);
    close(Math.max(...ys) - Math.min(...ys), 4, 1e-12);
    // The box's +u axis (its "right" end at angle 0) points up on screen at +90 degrees: y decreases.
    const [, right] = rotatedBoxCorners([0, 0, 4, 0, 90]);
    close(right[0], 0, 1e-12);
    close(right[1], -2, 1e-12);
    // At +30 degrees the right end rises (y smaller) while moving right.
    const [, r30] = rotatedBoxCorners([0, 0, 2, 0, 30]);
    assert.ok(r30[0] > 0 && r30[1] < 0);
  });

  it('encloses the corners exactly', () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const box: RotatedBox = [rand() * 100, rand() * 100, rand() * 50, rand() * 50, rand() * 720 - 360];
      const [x1, y1, x2, y2] = rotatedBoxEnclosing(box);
      const c = rotatedBoxCorners(box);
      close(x1, Math.min(...c.map((p) => p[0])), 1e-9);
      close(x2, Math.max(...c.map((p) => p[0])), 1e-9);
      close(y1, Math.min(...c.map((p) => p[1])), 1e-9);
      close(y2, Math.max(...c.map((p) => p[1])), 1e-9);
    }
  });

  it('normalises angles into [-180, 180) and canonicalises equivalent boxes', () => {
    assert.equal(normalizeAngle(180), -180);
    assert.equal(normalizeAngle(-180), -180);
    assert.equal(normalizeAngle(540), -180);
    assert.equal(normalizeAngle(-190), 170);
    assert.equal(normalizeAngle(359), -1);
    const a = canonicalRotatedBox([5, 5, 10, 3, 200]);
    const b = canonicalRotatedBox([5, 5, 3, 10, 110]);
    const c = canonicalRotatedBox([5, 5, 10, 3, 20]);
    for (const box of [a, b]) {
      assert.deepEqual(box.slice(0, 4), c.slice(0, 4));
      close(box[4], c[4], 1e-12);
    }
    assert.ok(c[4] >= -90 && c[4] < 90 && c[2] >= c[3]);
  });
});

describe('rotatedIoU', () => {
  const pairs = readJson<Pair[]>(cocoFixture('rotated_iou_pairs.json'));

  it('matches shapely on every reference pair within 1e-9', () => {
    assert.ok(pairs.length >= 100);
    for (const p of pairs) {
      close(rotatedIoU(p.box1, p.box2), p.iou, 1e-9, `${p.kind} ${JSON.stringify(p.box1)} ${JSON.stringify(p.box2)}`);
      close(rotatedIntersectionArea(p.box1, p.box2), p.inter, 1e-9 * Math.max(1, p.inter), `${p.kind} intersection`);
    }
  });

  it('is symmetric', () => {
    for (const p of pairs) close(rotatedIoU(p.box2, p.box1), p.iou, 1e-9, p.kind);
  });

  it('gives 1 for the same rectangle written differently (angle +-180/360, w/h swapped with angle +-90)', () => {
    const box: RotatedBox = [812.37, 640.11, 31.4, 7.2, 33.3];
    for (const other of [
      [812.37, 640.11, 31.4, 7.2, 33.3 + 180],
      [812.37, 640.11, 31.4, 7.2, 33.3 - 360],
      [812.37, 640.11, 7.2, 31.4, 33.3 + 90],
      [812.37, 640.11, 7.2, 31.4, 33.3 - 270],
    ] as RotatedBox[]) {
      close(rotatedIoU(box, other), 1, 1e-12);
    }
  });

  it('handles contained, touching, disjoint, degenerate and tiny boxes', () => {
    // Contained: a 2x2 square inside a 10x10 one, both rotated.
    close(rotatedIoU([0, 0, 10, 10, 17], [1, 1, 2, 2, 40]), 4 / 100, 1e-12);
    // Touching along an edge: no overlap area.
    assert.equal(rotatedIoU([0, 0, 2, 2, 0], [2, 0, 2, 2, 0]), 0);
    // Touching at a corner after rotation.
    close(rotatedIoU([0, 0, 2, 2, 45], [2 * Math.SQRT2, 0, 2, 2, 45]), 0, 1e-12);
    assert.equal(rotatedIoU([0, 0, 2, 2, 0], [100, 100, 2, 2, 0]), 0);
    assert.equal(rotatedIoU([0, 0, 0, 2, 0], [0, 0, 0, 2, 0]), 0, 'zero-width boxes have no area');
    // Tiny boxes far from the origin keep full relative precision (translation before clipping).
    const tiny: RotatedBox = [4096.123, 4096.456, 1e-3, 2e-3, 30];
    close(rotatedIoU(tiny, tiny), 1, 1e-9);
    // Shifted by half its width along its own u axis: overlap is half of each box, IoU 1/3.
    const t = (30 * Math.PI) / 180;
    close(rotatedIoU(tiny, [4096.123 + 5e-4 * Math.cos(t), 4096.456 - 5e-4 * Math.sin(t), 1e-3, 2e-3, 30]), 1 / 3, 1e-9);
  });

  it('agrees with a fine Monte-Carlo-free grid estimate on random boxes', () => {
    const rand = seededRandom(11);
    for (let i = 0; i < 20; i++) {
      const a: RotatedBox = [rand() * 10, rand() * 10, 2 + rand() * 8, 2 + rand() * 8, rand() * 360];
      const b: RotatedBox = [rand() * 10, rand() * 10, 2 + rand() * 8, 2 + rand() * 8, rand() * 360];
      const inside = (box: RotatedBox, x: number, y: number): boolean => {
        const t = (box[4] * Math.PI) / 180;
        const dx = x - box[0];
        const dy = y - box[1];
        // Inverse of x = cx + u c + v s, y = cy - u s + v c.
        const u = dx * Math.cos(t) - dy * Math.sin(t);
        const v = dx * Math.sin(t) + dy * Math.cos(t);
        return Math.abs(u) <= box[2] / 2 && Math.abs(v) <= box[3] / 2;
      };
      let inter = 0;
      const step = 0.02;
      for (let x = -10; x < 20; x += step) for (let y = -10; y < 20; y += step) if (inside(a, x, y) && inside(b, x, y)) inter++;
      inter *= step * step;
      close(rotatedIntersectionArea(a, b), inter, 0.02 * Math.max(1, inter) + 0.05);
    }
  });

  it('computes crowd IoU as intersection over the detection area', () => {
    close(rotatedIoUCrowd([0, 0, 2, 2, 0], [0, 0, 100, 100, 10]), 1, 1e-12);
    close(rotatedIoUCrowd([1, 0, 2, 2, 0], [0, 0, 2, 2, 0]), 0.5, 1e-12);
  });
});

describe('convex polygon clipping', () => {
  it('clips squares of either orientation', () => {
    const a: [number, number][] = [[0, 0], [2, 0], [2, 2], [0, 2]];
    const b: [number, number][] = [[1, 1], [1, 3], [3, 3], [3, 1]];
    close(polygonArea(clipConvexPolygon(a, b)), 1, 1e-12);
    close(polygonArea(clipConvexPolygon(b, a)), 1, 1e-12);
  });
});
