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
import { spawnSync } from 'node:child_process';
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

  it('rasterises polygons reaching far outside the image exactly as the direct boundary walk, in bounded memory', () => {
    const rand = seededRandom(11);
    for (let t = 0; t < 3000; t++) {
      const H = 1 + Math.floor(rand() * 14), W = 1 + Math.floor(rand() * 14);
      const n = 3 + Math.floor(rand() * 5);
      // Mostly near the image, some vertices far outside (negative too), some on pixel corners.
      const xy = Array.from({ length: 2 * n }, (_, i) => {
        const size = i % 2 === 0 ? W : H;
        const r = rand();
        if (r < 0.15) return Math.round((rand() - 0.5) * 400);
        if (r < 0.35) return Math.round(rand() * size);
        return (rand() * 1.6 - 0.3) * size;
      });
      assert.deepEqual(rleFromPolygon(xy, H, W), directWalkPolygon(xy, H, W), `case ${t}: ${H}x${W} ${JSON.stringify(xy)}`);
    }
    assert.throws(() => rleFromPolygon([0, 0, 1e13, 0, 0, 5], 10, 10), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_INVALID_ARGUMENT');
    assert.throws(() => rleFromPolygon([0, 0, Infinity, 0, 0, 5], 10, 10), EmsegError);
  });

  it('loads a COCO polygon with a vertex at 4e9 px on a 10 x 10 image within a 64 MB heap', () => {
    // The direct walk visits every upsampled boundary point: 2e10 here (it needed 1.66 GB at 4e6).
    const coco = JSON.stringify({
      images: [{ id: 1, file_name: 'a.png', width: 10, height: 10 }],
      categories: [{ id: 1, name: 'x' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, segmentation: [[1, 1, 4e9, 2, 1, 8]] }],
    });
    const code = `import { loadCocoDataset, rleArea, cocoSegmentationToRle } from './core/index.ts';
      const d = loadCocoDataset(process.argv[1], 'far.json');
      console.log(d.annotations[0].area);`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', code, coco], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
    assert.equal(r.status, 0, r.stderr);
    // Inside the image the wedge is the same as one cut at 4e5 px, which the direct walk can afford.
    assert.equal(Number(r.stdout.trim()), rleArea(directWalkPolygon([1, 1, 4e5, 2, 1, 8], 10, 10)));
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

/** pycocotools' rleFrPoly as written there: every upsampled boundary point (the reference). */
function directWalkPolygon(xy: readonly number[], h: number, w: number): { height: number; width: number; counts: Uint32Array } {
  const k = xy.length / 2, scale = 5;
  const x: number[] = [], y: number[] = [];
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[2 * j] + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[2 * j + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  const u: number[] = [], v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) [xs, xe, ys, ye] = [xe, xs, ye, ys];
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) for (let d = 0; d <= dx; d++) { const t = flip ? dx - d : d; u.push(t + xs); v.push(Math.trunc(ys + s * t + 0.5)); }
    else for (let d = 0; d <= dy; d++) { const t = flip ? dy - d : d; v.push(t + ys); u.push(Math.trunc(xs + s * t + 0.5)); }
  }
  const starts: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    yd = Math.ceil(yd < 0 ? 0 : yd > h ? h : yd);
    starts.push(xd * h + yd);
  }
  starts.push(h * w);
  starts.sort((p, q) => p - q);
  let p = 0;
  for (let j = 0; j < starts.length; j++) { const t = starts[j]; starts[j] -= p; p = t; }
  const runs = [starts[0]];
  for (let j = 1; j < starts.length; ) {
    if (starts[j] > 0) runs.push(starts[j++]);
    else { j++; if (j < starts.length) runs[runs.length - 1] += starts[j++]; }
  }
  return { height: h, width: w, counts: Uint32Array.from(runs) };
}
