import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

/**
 * Convolution gradients on the active backend, compared with the cpu backend's own conv2dDerFilter /
 * conv2dDerInput (direct loops over the definition): the cases both wasm kernel sets are held to.
 */

export interface Case { x: [number, number, number, number]; k: number; ci: number; co: number; stride: number; pad: 'same' | 'valid' | number }
export const cases: Case[] = [
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
  // Output channels a multiple of 16 (8): onnxruntime's NCHWc convolution where the CPU has it, with
  // blocked inputs (stride 1 and 2, asymmetric 'same' padding), an unblocked stem-like input (1 and 3
  // channels, 7x7 / 2), and an input gradient whose dy is unblocked (5 channels).
  { x: [1, 10, 12, 32], k: 3, ci: 32, co: 16, stride: 1, pad: 'same' },
  { x: [2, 9, 10, 16], k: 3, ci: 16, co: 32, stride: 2, pad: 'same' },
  { x: [1, 20, 18, 1], k: 7, ci: 1, co: 16, stride: 2, pad: 3 },
  { x: [1, 12, 12, 3], k: 5, ci: 3, co: 16, stride: 1, pad: 'valid' },
  { x: [1, 8, 9, 16], k: 3, ci: 16, co: 5, stride: 1, pad: 1 },
  // A kernel covering the whole input: the fully connected special case (box head fc1).
  { x: [5, 7, 7, 3], k: 7, ci: 3, co: 4, stride: 1, pad: 'valid' },
];

export function grads(c: Case, seed: number): { dx: Float32Array; dw: Float32Array } {
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
export function deconvGrads(): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 31) as tf.Tensor4D;
    const w = tf.randomNormal([2, 2, 3, 4], 0, 1, 'float32', 32) as tf.Tensor4D;
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2dTranspose(xx, ww, [2, 10, 12, 3], 2, 'valid').square().sum();
    const [dx, dw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** Gradients of the cpu reference, computed before the backend under test is selected. */
export function referenceGradients(): { cases: { dx: Float32Array; dw: Float32Array }[]; deconv: { dx: Float32Array; dw: Float32Array } } {
  return { cases: cases.map((c, i) => grads(c, 100 + i)), deconv: deconvGrads() };
}

/** Every case's dx and dw within 1e-5 (relative to the gradient's scale) of the reference. */
export function assertMatchesReference(ref: ReturnType<typeof referenceGradients>): void {
  const got = deconvGrads();
  for (const key of ['dx', 'dw'] as const) {
    let max = 0;
    for (let j = 0; j < got[key].length; j++) max = Math.max(max, Math.abs(got[key][j] - ref.deconv[key][j]));
    assert.ok(max < 1e-4, `transposed convolution ${key}: max diff ${max}`);
  }
  cases.forEach((c, i) => {
    const g = grads(c, 100 + i);
    for (const key of ['dx', 'dw'] as const) {
      const a = g[key], b = ref.cases[i][key];
      assert.equal(a.length, b.length, `${key} length case ${i}`);
      let maxAbs = 0, maxRef = 0;
      for (let j = 0; j < a.length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[j] - b[j]));
        maxRef = Math.max(maxRef, Math.abs(b[j]));
      }
      assert.ok(maxAbs <= 1e-5 * Math.max(1, maxRef), `${key} case ${i} ${JSON.stringify(c)}: max diff ${maxAbs} (scale ${maxRef})`);
    }
  });
}
