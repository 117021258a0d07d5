import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRle, generateHaadfNanorods, generateTemVesicles, rleArea, rleIntersection, seededRandom, type SynthImage } from '../../core/index.ts';

function meanOver(image: SynthImage, select: (i: number) => boolean): number {
  let s = 0, n = 0;
  for (let i = 0; i < image.data.length; i++) if (select(i)) { s += image.data[i]; n++; }
  return s / n;
}

function coverage(image: SynthImage, categoryId?: number): Uint8Array {
  const c = new Uint8Array(image.width * image.height);
  for (const o of image.objects) {
    if (categoryId !== undefined && o.categoryId !== categoryId) continue;
    const m = decodeRle(o.rle);
    for (let i = 0; i < m.length; i++) c[i] += m[i];
  }
  return c;
}

describe('synthetic TEM vesicles', () => {
  const a = generateTemVesicles(seededRandom(1), { size: 256 });

  it('is deterministic for a seed and differs across seeds', () => {
    const b = generateTemVesicles(seededRandom(1), { size: 256 });
    assert.deepEqual(b.data, a.data);
    assert.deepEqual(b.objects, a.objects);
    assert.notDeepEqual(generateTemVesicles(seededRandom(2), { size: 256 }).data, a.data);
  });

  it('places about 30 large, 120 small vesicles and 30 holes, without overlapping masks', () => {
    const n = (c: number) => a.objects.filter((o) => o.categoryId === c).length;
    assert.ok(n(1) >= 24 && n(1) <= 34, `large ${n(1)}`);
    assert.ok(n(2) >= 95 && n(2) <= 135, `small ${n(2)}`);
    assert.ok(n(3) >= 24 && n(3) <= 34, `holes ${n(3)}`);
    assert.ok(coverage(a).every((v) => v <= 1), 'masks do not overlap');
    assert.ok(a.objects.every((o) => rleArea(o.rle) > 0));
    assert.ok(Math.abs(a.pixelSizeNm - 2) < 1e-12, '512 nm field of view at 256 px');
  });

  it('renders small vesicles dark, holes bright and large vesicles at low contrast', () => {
    const bg = coverage(a);
    const background = meanOver(a, (i) => bg[i] === 0);
    const inside = (c: number) => {
      const cov = coverage(a, c);
      return meanOver(a, (i) => cov[i] > 0);
    };
    assert.ok(inside(2) < 0.9 * background, `small ${inside(2)} vs ${background}`);
    assert.ok(inside(3) > 1.1 * background, `holes ${inside(3)} vs ${background}`);
    const large = inside(1) / background;
    assert.ok(large > 0.95 && large < 1.1, `large vesicles are low contrast: ratio ${large}`);
  });

  it('honours configured counts', () => {
    const im = generateTemVesicles(seededRandom(4), { size: 256, counts: { large_vesicle: [0, 0], small_vesicle: [5, 5], hole: [2, 2] } });
    assert.deepEqual([1, 2, 3].map((c) => im.objects.filter((o) => o.categoryId === c).length), [0, 5, 2]);
    assert.throws(() => generateTemVesicles(seededRandom(4), { size: 256, counts: { hole: [3, 1] } }), /min <= max/);
  });
});

describe('synthetic HAADF nanorods', () => {
  const im = generateHaadfNanorods(seededRandom(5), { size: 256 });

  it('makes 24 to 36 rods of aspect 3 to 8 with rotated boxes matching their masks', () => {
    assert.ok(im.objects.length >= 24 && im.objects.length <= 36, `${im.objects.length} rods`);
    for (const o of im.objects) {
      assert.ok(o.rbox);
      const [, , w, h] = o.rbox;
      assert.ok(w >= h && w / h >= 3 - 1e-9 && w / h <= 8 + 1e-9, `aspect ${w / h}`);
      // A spherocylinder covers its box minus the cap corners: (1 - (1 - pi/4) h / w) of w * h.
      const expected = w * h * (1 - ((1 - Math.PI / 4) * h) / w);
      assert.ok(Math.abs(rleArea(o.rle) - expected) < 0.1 * expected + 4 * (w + h), `area ${rleArea(o.rle)} vs ${expected}`);
    }
  });

  it('overlaps rods and adds their intensity where they overlap (Z-contrast)', () => {
    let overlapping = 0;
    for (let i = 0; i < im.objects.length; i++) for (let j = i + 1; j < im.objects.length; j++) if (rleIntersection(im.objects[i].rle, im.objects[j].rle) > 0) overlapping++;
    assert.ok(overlapping >= 3, `${overlapping} overlapping pairs`);
    const cov = coverage(im);
    const one = meanOver(im, (i) => cov[i] === 1);
    const two = meanOver(im, (i) => cov[i] >= 2);
    const none = meanOver(im, (i) => cov[i] === 0);
    assert.ok(one > 2 * none, `rods ${one} vs background ${none}`);
    assert.ok(two > 1.3 * one, `overlaps ${two} vs single ${one}`);
  });
});
