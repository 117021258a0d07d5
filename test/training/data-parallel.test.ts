import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataParallel } from '../../training/parallel/data-parallel.ts';
import { shardData } from './fixtures/linear-replica.ts';

/** Gradient of mean((x.w - y)^2) by hand, in float64. */
function gradient(w: number[], seed: number): number[] {
  const { x, y } = shardData(seed);
  const g = [0, 0, 0];
  x.forEach((row, i) => {
    const e = row[0] * w[0] + row[1] * w[1] + row[2] * w[2] - y[i];
    for (let k = 0; k < 3; k++) g[k] += (2 * e * row[k]) / x.length;
  });
  return g;
}

describe('DataParallel', () => {
  it('averages the workers\' gradients every step and keeps the replicas identical', async () => {
    const lr = 0.1;
    const dp = await DataParallel.start(new URL('./fixtures/linear-replica.ts', import.meta.url).href, { lr }, 2);
    try {
      let w = [0.1, -0.2, 0.3];
      for (let step = 0; step < 3; step++) {
        const shards = [10 * step + 1, 10 * step + 2];
        await dp.step(shards);
        const g1 = gradient(w, shards[0]), g2 = gradient(w, shards[1]);
        w = w.map((v, k) => v - lr * ((g1[k] + g2[k]) / 2));
      }
      const [a, b] = await Promise.all([dp.parameters(0), dp.parameters(1)]);
      assert.deepEqual(a, b, 'replicas hold bit-identical weights');
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(a[k] - w[k]) < 1e-5, `w[${k}] = ${a[k]}, expected ${w[k]}`);
    } finally {
      await dp.close();
    }
  });
});
