import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { nchwcBlockSize, onnxruntimeConvCounts } from '../../training/backend/onnxruntime-convs.ts';
import { assertMatchesReference, referenceGradients } from '../helpers/conv-cases.ts';

/**
 * The wasm backend's training kernels against an independent reference, the cpu backend's own
 * kernels (direct loops over the definitions), computed on cpu first. Convolutions here run on
 * onnxruntime (the default); conv-gradients-wasm.test.ts holds emseg's XNNPACK-based fallback kernels
 * to the same cases.
 */

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

describe('wasm training kernels (convolutions on onnxruntime)', () => {
  let reference: ReturnType<typeof referenceGradients>;
  const poolReference: Float32Array[] = [];
  before(async () => {
    await tf.setBackend('cpu');
    reference = referenceGradients();
    poolCases.forEach((c, i) => poolReference.push(poolGrad(c, 200 + i, 0), poolGrad(c, 300 + i, 10)));
    await selectBackend('wasm');
  });

  it('convolution forward, input and filter gradients equal the cpu backend (strides 1-3, same/valid/explicit pads, 1x1 to 7x7, FC, transposed)', () => {
    const before = onnxruntimeConvCounts();
    assertMatchesReference(reference);
    const after = onnxruntimeConvCounts();
    assert.ok(after.onnxruntime - before.onnxruntime >= 3 * 12, `onnxruntime ran ${after.onnxruntime - before.onnxruntime} convolutions`);
    assert.equal(after.fallback, before.fallback, 'no case fell back to the wasm kernels');
    // On x64 MLAS blocks channels by 8 (AVX2) or 16 (AVX-512); the cases whose output channels are a
    // multiple of 16 then run the blocked kernels forward (4), and the unstrided ones whose input
    // channels are (3) backward.
    if (process.arch === 'x64') assert.ok(nchwcBlockSize() >= 8, `NCHWc block ${nchwcBlockSize()}`);
    if (nchwcBlockSize() > 1) assert.ok(after.nchwc - before.nchwc >= 6, `NCHWc ran ${after.nchwc - before.nchwc} convolutions`);
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

  it('Identity (the clone behind every tensor saved for a gradient) shares data and counts references', () => {
    const buffers = () => (tf.memory() as tf.MemoryInfo & { numDataBuffers: number }).numDataBuffers;
    const before = buffers();
    const x = tf.tensor1d([1, 2, 3, 4]);
    const y = tf.clone(x);
    assert.equal(buffers() - before, 1, 'one buffer for both');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4], 'the clone outlives its source');
    const z = tf.add(y, 1);
    assert.deepEqual(Array.from(z.dataSync()), [2, 3, 4, 5]);
    tf.dispose([y, z]);
    assert.equal(buffers(), before, 'the buffer is freed with its last reference');
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
