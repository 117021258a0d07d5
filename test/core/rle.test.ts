import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EmsegError,
  cocoSegmentationToRle,
  decodeRle,
  encodeMask,
  encodeMaskInBox,
  loadCocoDataset,
  rleArea,
  rleCountsFromString,
  rleCountsToString,
  rleFromBbox,
  rleFromPolygon,
  rleIoU,
  rleMerge,
  rleToBbox,
  toCocoRle,
  type CocoRle,
} from '../../core/index.ts';
import { readFileSync } from 'node:fs';
import { cocoFixture, readJson, seededRandom } from '../helpers/fixtures.ts';

function randomMask(rand: () => number, h: number, w: number, density: number): Uint8Array {
  const m = new Uint8Array(h * w);
  // Blobs rather than salt noise, so runs have realistic lengths.
  const blobs = 1 + Math.floor(rand() * 4);
  for (let b = 0; b < blobs; b++) {
    const cx = rand() * w, cy = rand() * h, r = 1 + rand() * Math.min(h, w) * density;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) m[y * w + x] = 1;
  }
  return m;
}

describe('RLE encode/decode', () => {
  it('round-trips masks and walks pixels column-major like pycocotools', () => {
    // 2x3 mask, rows [1 0 0; 1 1 0]: column-major order is 1,1, 0,1, 0,0 -> runs [0, 2, 1, 1, 2].
    const rle = encodeMask([1, 0, 0, 1, 1, 0], 2, 3);
    assert.deepEqual([...rle.counts], [0, 2, 1, 1, 2]);
    assert.deepEqual([...decodeRle(rle)], [1, 0, 0, 1, 1, 0]);
    assert.equal(rleArea(rle), 3);
    const rand = seededRandom(1);
    for (let i = 0; i < 50; i++) {
      const h = 1 + Math.floor(rand() * 40), w = 1 + Math.floor(rand() * 40);
      const m = randomMask(rand, h, w, 0.4);
      const r = encodeMask(m, h, w);
      assert.deepEqual(decodeRle(r), m);
      assert.equal(rleArea(r), m.reduce((a, b) => a + b, 0));
    }
    assert.deepEqual([...encodeMask([], 0, 0).counts], [0]);
  });

  it('reads and writes compressed strings byte-for-byte as pycocotools does', () => {
    const dts = readJson<{ segmentation: CocoRle }[]>(cocoFixture('segm_poly.dt.json'));
    assert.ok(dts.length > 10);
    for (const d of dts) {
      const s = d.segmentation.counts as string;
      const counts = rleCountsFromString(s);
      const [h, w] = d.segmentation.size;
      assert.equal(counts.reduce((a, b) => a + b, 0), h * w);
      assert.equal(rleCountsToString(counts), s);
    }
    // Large counts and negative deltas survive the 5-bit varint (counts beyond 2^31 too).
    const big = [0, 4_000_000_000, 3, 1, 2 ** 32 - 1, 0, 7];
    assert.deepEqual([...rleCountsFromString(rleCountsToString(big))], big);
  });

  it('rejects corrupt compressed strings with typed errors', () => {
    assert.throws(() => rleCountsFromString('ab~', 'x.json'), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_RLE_INVALID' && /x\.json/.test(e.message));
    assert.throws(() => rleCountsFromString('0P'), /ends inside a value/);
    assert.throws(
      () => cocoSegmentationToRle({ size: [4, 4], counts: [3, 2] }, 4, 4, 'gt.json: annotations[0]'),
      /cover 5 pixels but the image has 4 x 4 = 16/,
    );
    assert.throws(() => cocoSegmentationToRle({ size: [4, 5], counts: [20] }, 4, 4, 'a'), /does not match the image size/);
  });
});

describe('RLE geometry', () => {
  it('computes bbox, merge and IoU like a pixel-wise reference', () => {
    const rand = seededRandom(2);
    for (let i = 0; i < 60; i++) {
      const h = 1 + Math.floor(rand() * 30), w = 1 + Math.floor(rand() * 30);
      const a = randomMask(rand, h, w, 0.3);
      const b = randomMask(rand, h, w, 0.3);
      const ra = encodeMask(a, h, w), rb = encodeMask(b, h, w);
      let inter = 0, union = 0, areaA = 0;
      for (let p = 0; p < h * w; p++) {
        inter += a[p] & b[p];
        union += a[p] | b[p];
        areaA += a[p];
      }
      assert.deepEqual(decodeRle(rleMerge([ra, rb])), a.map((v, p) => v | b[p]));
      assert.deepEqual(decodeRle(rleMerge([ra, rb], true)), a.map((v, p) => v & b[p]));
      assert.equal(rleIoU(ra, rb), inter === 0 ? 0 : inter / union);
      assert.equal(rleIoU(ra, rb, true), inter === 0 ? 0 : inter / areaA);
      // Tight bbox (pycocotools widens to full height only when one run spans two columns).
      const xs: number[] = [], ys: number[] = [];
      for (let p = 0; p < h * w; p++) if (a[p]) { xs.push(p % w); ys.push(Math.floor(p / w)); }
      const [bx, by, bw, bh] = rleToBbox(ra);
      if (xs.length === 0) assert.deepEqual([bx, by, bw, bh], [0, 0, 0, 0]);
      else {
        assert.equal(bx, Math.min(...xs));
        assert.equal(bw, Math.max(...xs) - bx + 1);
        assert.ok(by <= Math.min(...ys) && by + bh - 1 >= Math.max(...ys));
      }
    }
  });

  it('rasterises polygons exactly as pycocotools (areas of the reference GT, multi-part polygons merged)', () => {
    const path = cocoFixture('segm_poly.gt.json');
    const gt = loadCocoDataset(readFileSync(path, 'utf8'), path);
    const raw = readJson<{ annotations: { area: number }[] }>(path);
    const sizes = new Map(gt.images.map((im) => [im.id, im]));
    let multi = 0;
    gt.annotations.forEach((ann, i) => {
      const im = sizes.get(ann.image_id)!;
      if (Array.isArray(ann.segmentation) && ann.segmentation.length > 1) multi++;
      const rle = cocoSegmentationToRle(ann.segmentation!, im.height, im.width, 'gt');
      assert.equal(rleArea(rle), raw.annotations[i].area, `annotation ${ann.id}`);
    });
    assert.ok(multi > 0, 'the reference has multi-part polygons');
  });

  it('rasterises boxes and pixel-corner polygons to exactly their pixels', () => {
    const r = rleFromBbox([2, 1, 3, 2], 5, 6);
    const m = decodeRle(r);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 6; x++) assert.equal(m[y * 6 + x], x >= 2 && x < 5 && y >= 1 && y < 3 ? 1 : 0);
    // A polygon partly outside the image is clipped to it (C truncation toward zero for negatives).
    const clipped = rleFromPolygon([-3, -3, 3, -3, 3, 3, -3, 3], 10, 10);
    assert.equal(rleArea(clipped), 9);
  });

  it('encodes a mask given only inside its box exactly as the full-image encoder', () => {
    const rand = seededRandom(5);
    for (let t = 0; t < 2000; t++) {
      const H = 1 + Math.floor(rand() * 12), W = 1 + Math.floor(rand() * 12);
      const bw = 1 + Math.floor(rand() * W), bh = 1 + Math.floor(rand() * H);
      const x0 = Math.floor(rand() * (W - bw + 1)), y0 = Math.floor(rand() * (H - bh + 1));
      const local = Uint8Array.from({ length: bw * bh }, () => (rand() < 0.5 ? 1 : 0));
      const full = new Uint8Array(H * W);
      for (let j = 0; j < bh; j++) for (let i = 0; i < bw; i++) full[(y0 + j) * W + x0 + i] = local[j * bw + i];
      assert.deepEqual(encodeMaskInBox(local, x0, y0, bw, bh, H, W), encodeMask(full, H, W), `case ${t}`);
    }
    assert.throws(() => encodeMaskInBox([1], 5, 0, 1, 1, 4, 4), /inside the 4 x 4 image/);
  });

  it('serialises to COCO compressed RLE', () => {
    const r = encodeMask([0, 1, 1, 1], 2, 2);
    const coco = toCocoRle(r);
    assert.deepEqual(coco.size, [2, 2]);
    assert.deepEqual(cocoSegmentationToRle(coco, 2, 2, 'x'), r);
  });
});
