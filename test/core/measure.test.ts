import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureMask, numberDensityPerUm2, summarise } from '../../core/index.ts';

function disc(size: number, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) m[y * size + x] = 1;
  return m;
}

function ellipse(size: number, a: number, b: number, angleDeg: number): Uint8Array {
  const m = new Uint8Array(size * size);
  const t = (angleDeg * Math.PI) / 180, c = size / 2;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const dx = x + 0.5 - c, dy = y + 0.5 - c;
    // Counter-clockwise as displayed (y down).
    const u = dx * Math.cos(t) - dy * Math.sin(t), v = dx * Math.sin(t) + dy * Math.cos(t);
    if ((u / a) ** 2 + (v / b) ** 2 <= 1) m[y * size + x] = 1;
  }
  return m;
}

describe('object measurements', () => {
  it('measures a disc: area, diameter, perimeter, circularity, solidity within a few percent', () => {
    const r = 30;
    const m = measureMask(disc(100, 50, 50, r), 100, 100);
    assert.equal(m.unit, 'px');
    assert.ok(Math.abs(m.area - Math.PI * r * r) / (Math.PI * r * r) < 0.01);
    assert.ok(Math.abs(m.equivalentDiameter - 2 * r) < 0.3);
    assert.ok(Math.abs(m.perimeter - 2 * Math.PI * r) / (2 * Math.PI * r) < 0.03, `perimeter ${m.perimeter}`);
    assert.ok(m.circularity > 0.93, `circularity ${m.circularity}`);
    assert.ok(m.solidity > 0.97);
    assert.ok(Math.abs(m.majorAxis - 2 * r) < 1 && Math.abs(m.minorAxis - 2 * r) < 1);
  });

  it('fits the ellipse axes and the displayed counter-clockwise orientation', () => {
    for (const angle of [0, 30, 60, 90, -45]) {
      const m = measureMask(ellipse(120, 40, 15, angle), 120, 120);
      assert.ok(Math.abs(m.majorAxis - 80) < 1.5 && Math.abs(m.minorAxis - 30) < 1.5, `axes ${m.majorAxis} ${m.minorAxis}`);
      const d = Math.abs(((m.orientation - angle + 540) % 180) - 180) % 180;
      assert.ok(Math.min(d, 180 - d) < 1, `angle ${angle}: got ${m.orientation}`);
      assert.ok(Math.abs(m.aspectRatio - 80 / 30) < 0.1);
    }
  });

  it('converts to nm with the pixel size, reports rod length/width/angle and mean intensity', () => {
    const mask = disc(40, 20, 20, 10);
    const image = Float32Array.from(mask, (v) => (v ? 7 : 1));
    const px = measureMask(mask, 40, 40);
    const nm = measureMask(mask, 40, 40, { pixelSize: { x: 2, y: 2 }, image, rbox: [20, 20, 6, 18, 10] });
    assert.equal(nm.unit, 'nm');
    assert.ok(Math.abs(nm.area - 4 * px.area) < 1e-9 && Math.abs(nm.perimeter - 2 * px.perimeter) < 1e-9);
    assert.equal(nm.meanIntensity, 7);
    assert.deepEqual([nm.length, nm.width, nm.angle], [36, 12, -80]);
  });

  it('summarises a class with numpy-style percentiles and a histogram', () => {
    const s = summarise([1, 2, 3, 4, 100], 4);
    assert.equal(s.count, 5);
    assert.equal(s.median, 3);
    assert.equal(s.mean, 22);
    assert.ok(Math.abs(s.std - Math.sqrt(((21 ** 2) + (20 ** 2) + (19 ** 2) + (18 ** 2) + (78 ** 2)) / 4)) < 1e-9);
    assert.equal(s.percentiles.p25, 2);
    assert.deepEqual(s.histogram.counts, [4, 0, 0, 1]);
    assert.equal(numberDensityPerUm2(50, 2e6), 25);
  });
});
