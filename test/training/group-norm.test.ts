import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { groupNorm } from '../../training/backend/group-norm.ts';

/** GroupNorm written out from its definition with tfjs primitives: the independent reference. */
function reference(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 3], true);
  return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, eps))), [n, h, w, c]), gamma), beta);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe('fused GroupNorm kernels', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const [shape, groups] of [[[1, 6, 5, 8], 4], [[3, 4, 4, 6], 1], [[2, 7, 3, 32], 32]] as [[number, number, number, number], number][]) {
    it(`equal the definition, value and gradients (x, gamma, beta), ${shape.join('x')} in ${groups} groups`, () => {
      const x = tf.randomNormal(shape, 2, 3, 'float32', 1) as tf.Tensor4D; // offset mean: exercises the variance formula
      const gamma = tf.randomNormal([shape[3]], 1, 0.5, 'float32', 2), beta = tf.randomNormal([shape[3]], 0, 0.5, 'float32', 3);
      const up = tf.randomNormal(shape, 0, 1, 'float32', 4);
      assert.ok(maxDiff(groupNorm(x, groups, gamma, beta, 1e-5), reference(x, groups, gamma, beta, 1e-5)) < 1e-5);
      const loss = (f: typeof groupNorm | typeof reference) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, groups, b, c, 1e-5), up));
      const fused = tf.grads(loss(groupNorm))([x, gamma, beta]);
      const ref = tf.grads(loss(reference))([x, gamma, beta]);
      ['x', 'gamma', 'beta'].forEach((name, i) => {
        assert.deepEqual(fused[i].shape, ref[i].shape, name);
        assert.ok(maxDiff(fused[i], ref[i]) < 1e-4, `d${name}: ${maxDiff(fused[i], ref[i])}`);
      });
    });
  }
});
