import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeImage, percentiles, seededRandom } from '../../core/index.ts';

/** numpy.percentile(default 'linear') written plainly: sort, interpolate at q * (n - 1). */
function npPercentile(values: number[], p: number): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return lo + 1 < s.length ? s[lo] + (pos - lo) * (s[lo + 1] - s[lo]) : s[lo];
}

describe('percentile normalisation', () => {
  it('computes numpy-linear percentiles for every pixel type (histogram and quickselect paths)', () => {
    const rand = seededRandom(21);
    for (const make of [
      (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)),
      (n: number) => Uint16Array.from({ length: n }, () => Math.floor(rand() * rand() * 65536)),
      (n: number) => Int16Array.from({ length: n }, () => Math.floor((rand() - 0.5) * 2000)),
      (n: number) => Float32Array.from({ length: n }, () => (rand() - 0.3) * 1e3),
    ]) {
      for (const n of [1, 2, 7, 1000, 4097]) {
        const data = make(n);
        const values = Array.from(data as ArrayLike<number>);
        for (const [lo, hi] of [[0.5, 99.5], [0, 100], [25, 75]]) {
          const [a, b] = percentiles(data, lo, hi);
          assert.ok(Math.abs(a - npPercentile(values, lo)) < 1e-6 * (1 + Math.abs(a)), `${data.constructor.name} n=${n} p${lo}: ${a} vs ${npPercentile(values, lo)}`);
          assert.ok(Math.abs(b - npPercentile(values, hi)) < 1e-6 * (1 + Math.abs(b)), `${data.constructor.name} n=${n} p${hi}`);
        }
      }
    }
  });

  it('maps the robust range to [0, 1], clips outliers, ignores NaN and handles constant images', () => {
    const data = new Uint16Array(1000);
    for (let i = 0; i < 1000; i++) data[i] = 1000 + i;
    data[0] = 0; // dead pixel
    data[999] = 65535; // hot pixel
    const { data: out, low, high } = normalizeImage({ data });
    assert.ok(low > 1000 && high < 2000, `${low} ${high}`);
    assert.equal(out[0], 0);
    assert.equal(out[999], 1);
    assert.ok(out[500] > 0.45 && out[500] < 0.55);
    assert.ok(out.every((v) => v >= 0 && v <= 1));
    assert.deepEqual([...normalizeImage({ data: new Float32Array([5, 5, 5]) }).data], [0, 0, 0]);
    const withNaN = normalizeImage({ data: new Float32Array([0, Number.NaN, 10, 5]) }, { method: 'percentile', low: 0, high: 100 });
    assert.deepEqual([...withNaN.data], [0, 0, 1, 0.5]);
    assert.throws(() => normalizeImage({ data }, { method: 'percentile', low: 60, high: 40 }), /0 <= low < high <= 100/);
  });

  it('gives the same output for an image at any bit depth or offset', () => {
    const rand = seededRandom(3);
    const u8 = Uint8Array.from({ length: 500 }, () => Math.floor(rand() * 200));
    const u16 = Uint16Array.from(u8, (v) => v * 256 + 4000);
    const f32 = Float32Array.from(u8, (v) => v * 0.01 - 3);
    const a = normalizeImage({ data: u8 }).data, b = normalizeImage({ data: u16 }).data, c = normalizeImage({ data: f32 }).data;
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i] - b[i]) < 1e-6 && Math.abs(a[i] - c[i]) < 1e-5);
    }
  });
});
