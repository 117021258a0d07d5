import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RotatedBox } from '../../core/index.ts';
import { type AffineWarp, drawWarp, warpImage, warpMaskCrop, warpRboxes } from '../../training/data/affine.ts';
import { augment, parseAugmentOptions } from '../../training/data/augment.ts';
import { augmentInstances, type InstanceSample, type MaskCrop } from '../../training/data/instances.ts';
import { seededRandom } from '../../core/random.ts';

/** Pixels (centres) inside a rotated box (angle counter-clockwise as displayed, y down). */
function insideRbox(r: ArrayLike<number>, x: number, y: number): boolean {
  const t = (r[4] * Math.PI) / 180;
  const dx = x - r[0], dy = y - r[1];
  const u = dx * Math.cos(t) - dy * Math.sin(t), v = dx * Math.sin(t) + dy * Math.cos(t);
  return Math.abs(u) <= r[2] / 2 && Math.abs(v) <= r[3] / 2;
}

function drawRbox(r: RotatedBox, W: number, H: number): Float32Array {
  const img = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (insideRbox(r, x + 0.5, y + 0.5)) img[y * W + x] = 1;
  return img;
}

function iou(a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): number {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] >= 0.5, q = b[i] >= 0.5;
    if (p && q) inter++;
    if (p || q) union++;
  }
  return inter / union;
}

function pasteCrop(c: MaskCrop, W: number, H: number): Uint8Array {
  const out = new Uint8Array(W * H);
  for (let y = 0; y < c.h; y++) for (let x = 0; x < c.w; x++) out[(c.y0 + y) * W + c.x0 + x] = c.data[y * c.w + x];
  return out;
}

const W = 96, H = 80;
const rod: RotatedBox = [40, 36, 36, 10, 25];

describe('affine warp (free rotation, scale jitter, crop)', () => {
  it('is the identity for angle 0, scale 1 and no shift', () => {
    const img = Float32Array.from({ length: W * H }, (_, i) => (i * 7919) % 101);
    const w: AffineWarp = { angle: 0, scale: 1, shiftX: 0, shiftY: 0, width: W, height: H };
    assert.deepEqual(warpImage(img, w), img);
    const crop: MaskCrop = { x0: 10, y0: 12, w: 3, h: 2, data: Uint8Array.from([1, 0, 1, 1, 1, 0]) };
    assert.deepEqual(warpMaskCrop(crop, w, 1), crop);
  });

  it('moves rotated boxes, masks and pixels together for any angle, scale and shift', () => {
    const img = drawRbox(rod, W, H);
    const mask = pasteCrop({ x0: 0, y0: 0, w: W, h: H, data: Uint8Array.from(img, (v) => (v > 0 ? 1 : 0)) }, W, H);
    const rand = seededRandom(3);
    const angles = new Set<number>();
    for (let k = 0; k < 40; k++) {
      const w = drawWarp(rand, W, H, { rotate: 180, scale: 0.3, probability: 1 })!;
      angles.add(Math.round(w.angle / 45));
      const warped = warpImage(img, w);
      const { rboxes, kept } = warpRboxes(Float32Array.from(rod), w);
      if (kept.length === 0) continue; // centre left the canvas
      const moved = drawRbox([...rboxes] as unknown as RotatedBox, W, H);
      const m = warpMaskCrop({ x0: 0, y0: 0, w: W, h: H, data: mask }, w);
      assert.ok(m, `warp ${JSON.stringify(w)}: the mask vanished although the centre stayed`);
      const pasted = pasteCrop(m, W, H);
      // The box is drawn exactly, the image resampled: IoU, not equality. The mask is the image's own
      // bilinear resampling thresholded at 0.5, so it matches the warped binary image (IoU 1 here).
      assert.ok(iou(moved, warped) > 0.9, `warp ${JSON.stringify(w)}: box vs image IoU ${iou(moved, warped)}`);
      assert.ok(iou(pasted, warped) > 0.99, `warp ${JSON.stringify(w)}: mask vs image IoU ${iou(pasted, warped)}`);
      assert.ok(Math.abs(rboxes[2] - rod[2] * w.scale) < 1e-3 || Math.abs(rboxes[3] - rod[2] * w.scale) < 1e-3, 'length scales');
    }
    assert.ok(angles.size >= 6, `angles spread over the range: ${[...angles]}`);
  });

  it('fills uncovered canvas with the median and drops objects that leave it', () => {
    const img = new Float32Array(W * H).fill(0.25);
    img.fill(1, 0, W); // one bright row: the median stays 0.25
    const w: AffineWarp = { angle: 45, scale: 0.5, shiftX: 0, shiftY: 0, width: W, height: H };
    const out = warpImage(img, w);
    assert.equal(out[0], 0.25, 'corner outside the shrunken image gets the median');
    const far: MaskCrop = { x0: 0, y0: 0, w: 2, h: 2, data: Uint8Array.from([1, 1, 1, 1]) };
    assert.equal(warpMaskCrop(far, { angle: 0, scale: 1, shiftX: 50, shiftY: 0, width: W, height: H }, 1)?.x0, 50);
    assert.equal(warpMaskCrop(far, { angle: 0, scale: 1, shiftX: -10, shiftY: 0, width: W, height: H }, 1), null);
    assert.equal(warpRboxes(Float32Array.from([5, 5, 4, 2, 0]), { angle: 0, scale: 1, shiftX: -10, shiftY: 0, width: W, height: H }).kept.length, 0);
  });

  it('draws no random numbers when disabled, so older runs keep their augmentation', () => {
    const img = Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 7) / 7);
    const boxes = Float32Array.from([16, 16, 10, 4, 30]);
    const a = augment(img, 32, 32, boxes, 9, { geometric: true, strength: 1 });
    const b = augment(img, 32, 32, boxes, 9, { geometric: true, strength: 1, warp: { rotate: 0, scale: 0, probability: 1 } });
    assert.deepEqual(a, b);
    const c = augment(img, 32, 32, boxes, 9, { geometric: true, strength: 1, warp: { rotate: 90, scale: 0, probability: 1 } });
    assert.notDeepEqual(a.data, c.data);
  });

  it('augments Mask R-CNN samples: boxes are the moved masks\' extents', () => {
    const crops: MaskCrop[] = [
      { x0: 10, y0: 10, w: 12, h: 8, data: new Uint8Array(96).fill(1) },
      { x0: 60, y0: 50, w: 10, h: 10, data: new Uint8Array(100).fill(1) },
    ];
    const sample: InstanceSample = { imageId: 1, path: 'x', width: W, height: H, boxes: Float32Array.from([10, 10, 22, 18, 60, 50, 70, 60]), classes: Int32Array.from([0, 2]), masks: crops };
    const img = new Float32Array(W * H);
    for (const c of crops) for (let y = 0; y < c.h; y++) img.fill(1, (c.y0 + y) * W + c.x0, (c.y0 + y) * W + c.x0 + c.w);
    for (let seed = 0; seed < 20; seed++) {
      const a = augmentInstances(img, sample, seed, { geometric: true, strength: 0, warp: { rotate: 180, scale: 0.25, probability: 1 } });
      assert.equal(a.masks.length, a.classes.length);
      a.masks.forEach((m, i) => {
        assert.deepEqual([...a.boxes.subarray(4 * i, 4 * i + 4)], [m.x0, m.y0, m.x0 + m.w, m.y0 + m.h]);
        // The moved mask sits on bright pixels of the moved image.
        let on = 0, total = 0;
        for (let y = 0; y < m.h; y++) for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) { total++; on += a.data[(m.y0 + y) * a.width + m.x0 + x] > 0.5 ? 1 : 0; }
        assert.ok(on / total > 0.8, `seed ${seed}: mask ${i} on bright pixels ${on}/${total}`);
      });
    }
  });

  it('checks augmentation settings from a config file', () => {
    assert.deepEqual(parseAugmentOptions(undefined, 'cfg.json').warp, { rotate: 180, scale: 0.25, probability: 0.5 });
    assert.deepEqual(parseAugmentOptions({ warp: null }, 'cfg.json').warp, { rotate: 0, scale: 0, probability: 0 });
    assert.deepEqual(parseAugmentOptions({ strength: 0.5, warp: { rotate: 30 } }, 'cfg.json'), { geometric: true, strength: 0.5, warp: { rotate: 30, scale: 0.25, probability: 0.5 } });
    assert.throws(() => parseAugmentOptions({ warp: { rotate: 400 } }, 'cfg.json'), /cfg\.json: augment\.warp\.rotate must be a number in \[0, 180\], received 400/);
    assert.throws(() => parseAugmentOptions({ strength: 'high' }, 'cfg.json'), /augment\.strength/);
    assert.throws(() => parseAugmentOptions({ geometric: 1 }, 'cfg.json'), /augment\.geometric must be true or false/);
    assert.throws(() => parseAugmentOptions({ warp: 5 }, 'cfg.json'), /augment\.warp must be an object or null/);
  });
});
