import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalRotatedBox, convexHull, maskMinAreaRect, minAreaRect, rotatedBoxCorners, rotatedIoU, type RotatedBox } from '../../core/index.ts';
import { seededRandom } from '../helpers/fixtures.ts';

describe('minAreaRect', () => {
  it('recovers a rotated rectangle from its corners, in the XYWHA convention', () => {
    const rand = seededRandom(12);
    for (let i = 0; i < 100; i++) {
      const box: RotatedBox = [rand() * 100, rand() * 100, 5 + rand() * 40, 2 + rand() * 10, rand() * 360 - 180];
      const pts = rotatedBoxCorners(box);
      // Interior points must not change the result.
      pts.push([box[0], box[1]]);
      const got = minAreaRect(pts);
      const want = canonicalRotatedBox(box);
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(got[k] - want[k]) < 1e-9, `${k}: ${got} vs ${want}`);
      const da = Math.abs(((got[4] - want[4] + 540) % 180) - 0);
      assert.ok(da < 1e-7 || Math.abs(da - 180) < 1e-7, `angle ${got[4]} vs ${want[4]}`);
    }
  });

  it('builds a convex hull without collinear points', () => {
    const hull = convexHull([[0, 0], [1, 0], [2, 0], [2, 2], [0, 2], [1, 1]]);
    assert.equal(hull.length, 4);
  });

  it('fits rasterised rods closely (IoU with the true box > 0.9, mean > 0.97)', () => {
    const rand = seededRandom(13);
    const H = 120, W = 120;
    const ious: number[] = [];
    for (let i = 0; i < 40; i++) {
      const box: RotatedBox = [60, 60, 40 + rand() * 30, 8 + rand() * 6, rand() * 180 - 90];
      const t = (box[4] * Math.PI) / 180;
      const m = new Uint8Array(H * W);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const dx = x + 0.5 - box[0], dy = y + 0.5 - box[1];
          const u = dx * Math.cos(t) - dy * Math.sin(t), v = dx * Math.sin(t) + dy * Math.cos(t);
          if (Math.abs(u) <= box[2] / 2 && Math.abs(v) <= box[3] / 2) m[y * W + x] = 1;
        }
      }
      const fit = maskMinAreaRect(m, H, W);
      ious.push(rotatedIoU(fit, box));
      assert.ok(ious[i] > 0.9, `IoU ${ious[i]} for ${box} -> ${fit}`);
    }
    assert.ok(ious.reduce((a, b) => a + b) / ious.length > 0.97);
  });

  it('gives a 1 x 1 box for a single pixel', () => {
    const m = new Uint8Array(25);
    m[12] = 1;
    const [cx, cy, w, h] = maskMinAreaRect(m, 5, 5);
    assert.deepEqual([cx, cy, w, h], [2.5, 2.5, 1, 1]);
    assert.deepEqual(maskMinAreaRect(new Uint8Array(25), 5, 5), [0, 0, 0, 0, 0]);
  });
});
