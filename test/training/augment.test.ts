import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rotatedBoxCorners, type RotatedBox } from '../../core/index.ts';
import { augment, padTo } from '../../training/data/augment.ts';

describe('augmentation', () => {
  it('moves rotated boxes with the pixels under every flip/transpose', () => {
    // A bright rectangle drawn from its rbox; after augmentation the mean inside the new rbox stays high.
    const W = 64, H = 48;
    const rbox: RotatedBox = [20, 14, 24, 6, 30];
    const img = new Float32Array(W * H);
    const t = (rbox[4] * Math.PI) / 180;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - rbox[0], dy = y + 0.5 - rbox[1];
      const u = dx * Math.cos(t) - dy * Math.sin(t), v = dx * Math.sin(t) + dy * Math.cos(t);
      if (Math.abs(u) <= rbox[2] / 2 && Math.abs(v) <= rbox[3] / 2) img[y * W + x] = 1;
    }
    const seen = new Set<string>();
    for (let seed = 0; seed < 64; seed++) {
      const a = augment(img, W, H, Float32Array.from(rbox), seed, { geometric: true, strength: 0 });
      const r = [...a.rboxes] as unknown as RotatedBox;
      seen.add(`${a.width}x${a.height}:${r[0].toFixed(1)},${r[1].toFixed(1)}:${r[4].toFixed(1)}`);
      // Every corner of the moved box lies on the moved rectangle's border region: sample the centre
      // and points inside along the box axes.
      const tt = (r[4] * Math.PI) / 180;
      let inside = 0;
      for (const [u, v] of [[0, 0], [8, 0], [-8, 0], [0, 2], [0, -2]]) {
        const x = r[0] + u * Math.cos(tt) + v * Math.sin(tt), y = r[1] - u * Math.sin(tt) + v * Math.cos(tt);
        inside += a.data[Math.floor(y) * a.width + Math.floor(x)];
      }
      assert.equal(inside, 5, `seed ${seed}: box ${r} not on the rectangle`);
      assert.ok(rotatedBoxCorners(r).every(([x, y]) => x > -1 && y > -1 && x < a.width + 1 && y < a.height + 1));
    }
    assert.equal(seen.size, 8, `all 8 symmetries should occur: ${[...seen].join(' ')}`);
  });

  it('is deterministic for a seed and keeps intensities in a sane range', () => {
    const img = Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 7) / 7);
    const a = augment(img, 32, 32, new Float32Array(0), 5);
    const b = augment(img, 32, 32, new Float32Array(0), 5);
    assert.deepEqual(a.data, b.data);
    assert.ok(a.data.every((v) => v > -0.5 && v < 1.5));
  });

  it('pads to multiples of 32', () => {
    const p = padTo(new Float32Array(33 * 20).fill(1), 33, 20);
    assert.deepEqual([p.width, p.height], [64, 32]);
    assert.equal(p.data.reduce((s, v) => s + v, 0), 33 * 20);
  });
});
