import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { euclideanDistanceTransform, otsuThreshold, otsuWatershed } from '../../core/baseline/otsu-watershed.ts';
import { decodeRle } from '../../core/mask/rle.ts';
import { seededRandom } from '../../core/random.ts';

/** An image of dark discs (0.2) on a bright background (0.8). */
function discs(width: number, height: number, list: [number, number, number][]): Float32Array {
  const img = new Float32Array(width * height).fill(0.8);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (const [cx, cy, r] of list) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) img[y * width + x] = 0.2;
  return img;
}

describe('Otsu + watershed baseline', () => {
  it('otsuThreshold separates a bimodal histogram between its modes', () => {
    const rand = seededRandom(1);
    const v = Float32Array.from({ length: 4000 }, (_, i) => (i % 4 === 0 ? 0.7 : 0.25) + 0.05 * (rand() - 0.5));
    const t = otsuThreshold(v);
    // Any cut in the empty gap (0.275, 0.675) separates the modes; Otsu's ties are resolved to its middle.
    assert.ok(t > 0.4 && t < 0.55, `threshold ${t}`);
  });

  it('the distance transform equals brute force on random masks', () => {
    const rand = seededRandom(7);
    for (let trial = 0; trial < 5; trial++) {
      const w = 13 + trial, h = 9 + 2 * trial;
      const fg = Uint8Array.from({ length: w * h }, () => (rand() < 0.8 ? 1 : 0));
      fg[0] = 0;
      const d = euclideanDistanceTransform(fg, w, h);
      for (let i = 0; i < w * h; i++) {
        let best = Infinity;
        for (let j = 0; j < w * h; j++) if (!fg[j]) best = Math.min(best, Math.hypot((i % w) - (j % w), Math.floor(i / w) - Math.floor(j / w)));
        assert.ok(Math.abs(d[i] - (fg[i] ? best : 0)) < 1e-5, `pixel ${i}: ${d[i]} vs ${best}`);
      }
    }
  });

  it('splits two touching discs, keeps separate ones apart, fills a hollow particle', () => {
    const w = 120, h = 80;
    const img = discs(w, h, [[30, 40, 14], [55, 40, 14], [95, 25, 8]]);
    // A hollow ring: bright centre inside a dark disc.
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - 95) ** 2 + (y - 60) ** 2 <= 100) img[y * w + x] = (x - 95) ** 2 + (y - 60) ** 2 <= 16 ? 0.8 : 0.2;
    const { instances } = otsuWatershed(img, w, h);
    assert.equal(instances.length, 4, `objects: ${instances.map((i) => i.area).join(', ')}`);
    const centres = instances.map((inst) => {
      const m = decodeRle(inst.mask);
      let sx = 0, sy = 0, n = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (m[y * w + x]) { sx += x; sy += y; n++; }
      return [sx / n, sy / n, n];
    }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.ok(Math.abs(centres[0][0] - 30) < 2 && Math.abs(centres[1][0] - 55) < 2, 'the touching pair is split near the neck');
    const ring = centres.find((c) => Math.abs(c[1] - 60) < 2)!;
    assert.ok(ring[2] > 0.95 * Math.PI * 100, `the hollow particle is filled: area ${ring[2]}`);
  });

  it('auto polarity finds bright particles on a dark background too', () => {
    const w = 64, h = 64;
    const img = discs(w, h, [[20, 20, 8], [44, 44, 10]]).map((v) => 1 - v);
    assert.equal(otsuWatershed(img, w, h).instances.length, 2);
    assert.equal(otsuWatershed(img, w, h, { foreground: 'dark' }).instances.length, 1, 'forced dark: the background is one object');
  });
});
