import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../training/backend/select-backend.ts';

/**
 * The replacement gradient kernels against an independent reference: the cpu backend's own
 * conv2dDerFilter / conv2dDerInput, which are direct loops over the definition. Computed on cpu first
 * (with tfjs's kernels restored there), then on wasm with ours.
 */

interface Case { x: [number, number, number, number]; k: number; ci: number; co: number; stride: number; pad: 'same' | 'valid' | number }
const cases: Case[] = [
  { x: [1, 9, 9, 3], k: 3, ci: 3, co: 4, stride: 1, pad: 'same' },
  { x: [2, 8, 10, 2], k: 3, ci: 2, co: 5, stride: 2, pad: 'same' },
  { x: [1, 11, 11, 4], k: 3, ci: 4, co: 3, stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 3], k: 1, ci: 3, co: 6, stride: 2, pad: 'valid' },
  { x: [1, 16, 16, 1], k: 7, ci: 1, co: 8, stride: 2, pad: 3 },
  { x: [1, 7, 9, 2], k: 5, ci: 2, co: 2, stride: 1, pad: 'valid' },
  { x: [1, 10, 10, 2], k: 3, ci: 2, co: 3, stride: 3, pad: 'same' },
  // Enough input channels for one product per tap; a batch of RoIs (the mask head's convolutions).
  { x: [1, 12, 10, 64], k: 3, ci: 64, co: 8, stride: 1, pad: 'same' },
  { x: [3, 6, 6, 20], k: 3, ci: 20, co: 5, stride: 1, pad: 1 },
  { x: [2, 9, 12, 40], k: 3, ci: 40, co: 6, stride: 2, pad: 'same' },
  // A kernel covering the whole input: the fully connected special case (box head fc1).
  { x: [5, 7, 7, 3], k: 7, ci: 3, co: 4, stride: 1, pad: 'valid' },
];

function grads(c: Case, seed: number): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', seed) as tf.Tensor4D;
    const w = tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
    const pad = typeof c.pad === 'number' ? ([[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]] as [[0, 0], [number, number], [number, number], [0, 0]]) : c.pad;
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2d(xx, ww, c.stride, pad).square().sum();
    const [dx, dw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** Gradients through a 2x2 stride-2 transposed convolution (the mask head's upsampling). */
function deconvGrads(): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 31) as tf.Tensor4D;
    const w = tf.randomNormal([2, 2, 3, 4], 0, 1, 'float32', 32) as tf.Tensor4D;
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2dTranspose(xx, ww, [2, 10, 12, 3], 2, 'valid').square().sum();
    const [dx, dw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

interface PoolCase { x: [number, number, number, number]; k: number; stride: number; pad: 'same' | 'valid' }
const poolCases: PoolCase[] = [
  { x: [1, 16, 16, 8], k: 3, stride: 2, pad: 'same' },
  { x: [2, 9, 11, 3], k: 3, stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 5], k: 2, stride: 2, pad: 'valid' },
  { x: [1, 7, 7, 4], k: 3, stride: 1, pad: 'same' },
];

/** Max-pool input gradient; integer values make ties (the first maximum in a window wins), a shift makes all-negative windows. */
function poolGrad(c: PoolCase, seed: number, shift: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomUniform(c.x, -4, 4, 'float32', seed).round().sub(shift) as tf.Tensor4D;
    const w = tf.randomNormal(tf.maxPool(x, c.k, c.stride, c.pad).shape, 0, 1, 'float32', seed + 1);
    return tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, c.k, c.stride, c.pad).mul(w).sum())(x).dataSync() as Float32Array;
  });
}

describe('wasm convolution gradient kernels', () => {
  const reference: { dx: Float32Array; dw: Float32Array }[] = [];
  let deconvReference: { dx: Float32Array; dw: Float32Array };
  const poolReference: Float32Array[] = [];
  before(async () => {
    await tf.setBackend('cpu');
    cases.forEach((c, i) => reference.push(grads(c, 100 + i)));
    deconvReference = deconvGrads();
    poolCases.forEach((c, i) => poolReference.push(poolGrad(c, 200 + i, 0), poolGrad(c, 300 + i, 10)));
    await selectBackend('wasm');
  });

  it('equal the cpu backend through a transposed convolution (forward uses the input-gradient kernel)', () => {
    const got = deconvGrads();
    for (const key of ['dx', 'dw'] as const) {
      let max = 0;
      for (let j = 0; j < got[key].length; j++) max = Math.max(max, Math.abs(got[key][j] - deconvReference[key][j]));
      assert.ok(max < 1e-4, `${key}: max diff ${max}`);
    }
  });

  it('equal the direct definition (cpu backend) for strides 1-3, same/valid/explicit padding, 1x1 to 7x7', () => {
    cases.forEach((c, i) => {
      const got = grads(c, 100 + i);
      for (const key of ['dx', 'dw'] as const) {
        const a = got[key], b = reference[i][key];
        assert.equal(a.length, b.length, `${key} length case ${i}`);
        let maxAbs = 0, maxRef = 0;
        for (let j = 0; j < a.length; j++) {
          maxAbs = Math.max(maxAbs, Math.abs(a[j] - b[j]));
          maxRef = Math.max(maxRef, Math.abs(b[j]));
        }
        assert.ok(maxAbs <= 1e-5 * Math.max(1, maxRef), `${key} case ${i} ${JSON.stringify(c)}: max diff ${maxAbs} (scale ${maxRef})`);
      }
    });
  });

  it('MaxPoolGrad equals the cpu backend, with ties and all-negative windows', () => {
    // Sums of overlapping windows' gradients differ in the last bits (summation order): 1e-6, not equality.
    const close = (a: Float32Array, b: Float32Array, what: string) => {
      assert.equal(a.length, b.length);
      let nonzero = 0;
      for (let j = 0; j < a.length; j++) {
        assert.ok(Math.abs(a[j] - b[j]) <= 1e-6 * Math.max(1, Math.abs(b[j])), `${what}: element ${j} ${a[j]} vs ${b[j]}`);
        if (b[j] !== 0) nonzero++;
      }
      assert.ok(nonzero > 0, `${what}: some gradient reaches the input`);
    };
    poolCases.forEach((c, i) => {
      close(poolGrad(c, 200 + i, 0), poolReference[2 * i], `case ${i} ${JSON.stringify(c)}`);
      close(poolGrad(c, 300 + i, 10), poolReference[2 * i + 1], `case ${i} ${JSON.stringify(c)}, negative values`);
    });
  });

  it('provides UnsortedSegmentSum (gradient of gather)', () => {
    const g = tf.tidy(() => {
      const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
      const idx = tf.tensor1d([2, 0, 2], 'int32');
      return tf.grad((t: tf.Tensor) => tf.gather(t, idx).mul(tf.tensor2d([[1, 1], [2, 2], [3, 3]])).sum())(table).arraySync();
    });
    assert.deepEqual(g, [[2, 2], [0, 0], [4, 4]]);
    const s = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0, 5, 1, 0], 'int32'), 3).arraySync());
    assert.deepEqual(s, [5, 3, 0], 'ids outside [0, numSegments) are dropped');
  });
});
