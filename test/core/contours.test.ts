import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRle, maskToContours, rleFromPolygon, rleMerge, signedPolygonArea, type Point } from '../../core/index.ts';
import { seededRandom } from '../helpers/fixtures.ts';

const toPoints = (flat: number[]): Point[] => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]] as const);

describe('maskToContours', () => {
  it('traces a square as 4 corners, clockwise on screen', () => {
    const m = new Uint8Array(16);
    for (const p of [5, 6, 9, 10]) m[p] = 1; // 2x2 block at x,y in 1..2
    const [c, ...rest] = maskToContours(m, 4, 4);
    assert.equal(rest.length, 0);
    assert.equal(c.hole, false);
    assert.deepEqual(c.points, [1, 1, 3, 1, 3, 3, 1, 3]);
  });

  it('encloses exactly the foreground: outer area minus holes equals the pixel count, on random masks', () => {
    const rand = seededRandom(9);
    for (let trial = 0; trial < 100; trial++) {
      const h = 1 + Math.floor(rand() * 25), w = 1 + Math.floor(rand() * 25);
      const m = Uint8Array.from({ length: h * w }, () => (rand() < 0.45 ? 1 : 0));
      const contours = maskToContours(m, h, w);
      let area = 0;
      for (const c of contours) {
        const a = signedPolygonArea(toPoints(c.points));
        assert.equal(c.hole, a < 0);
        area += a;
      }
      assert.equal(area, m.reduce((s, v) => s + v, 0), `trial ${trial}`);
    }
  });

  it('joins diagonal neighbours (8-connectivity) and reports holes', () => {
    // Two pixels touching at a corner form one outer boundary.
    assert.equal(maskToContours([1, 0, 0, 1], 2, 2).length, 1);
    // A ring has one outer boundary and one hole.
    const ring = [1, 1, 1, 1, 0, 1, 1, 1, 1];
    const cs = maskToContours(ring, 3, 3);
    assert.deepEqual(cs.map((c) => c.hole).sort(), [false, true]);
  });

  it('round-trips through pycocotools-style polygon rasterisation for solid objects', () => {
    const rand = seededRandom(4);
    for (let trial = 0; trial < 50; trial++) {
      const h = 8 + Math.floor(rand() * 30), w = 8 + Math.floor(rand() * 30);
      const m = new Uint8Array(h * w);
      const cx = rand() * w, cy = rand() * h, rx = 2 + rand() * w / 3, ry = 2 + rand() * h / 3;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 < 1) m[y * w + x] = 1;
      const outer = maskToContours(m, h, w).filter((c) => !c.hole);
      if (outer.length === 0) continue;
      const rle = rleMerge(outer.map((c) => rleFromPolygon(c.points, h, w)));
      assert.deepEqual(decodeRle(rle), m, `trial ${trial}`);
    }
  });
});
