import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { hostIo } from './host-io.ts';

/**
 * out[m] = sum over k of weight[m, k] * table[index[m, k]]: RoIAlign's bilinear sampling as one
 * kernel, and its gradient (the same weights scattered back) as another. Written by hand because the
 * composition tfjs offers (gather, multiply, sum; in the gradient unsorted-segment-sum) materialises
 * every neighbour's feature row: on wasm it was ~10 % of a detector training step, these loops take
 * a few ms. Generic over backends that can read and make tensors (cpu, wasm); others use the
 * composition (`weightedGather` checks).
 */
interface GatherAttrs {
  perRow: number;
}

const GATHER = 'EmsegWeightedGather';
const SCATTER = 'EmsegWeightedScatter';

const gatherKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { table, index, weight } = inputs as { table: TensorInfo; index: TensorInfo; weight: TensorInfo };
  const { perRow } = attrs as unknown as GatherAttrs;
  const io = hostIo(backend as KernelBackend);
  const C = table.shape[1], M = index.shape[0] / perRow;
  const result = io.alloc([M, C]);
  const T = io.read(table) as Float32Array, I = io.read(index) as Int32Array, W = io.read(weight) as Float32Array;
  const out = io.read(result) as Float32Array;
  for (let m = 0; m < M; m++) {
    const o = m * C;
    for (let k = m * perRow; k < (m + 1) * perRow; k++) {
      const w = W[k];
      if (w === 0) continue;
      const t = I[k] * C;
      for (let c = 0; c < C; c++) out[o + c] += w * T[t + c];
    }
  }
  return result;
};

const scatterKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, index, weight } = inputs as { dy: TensorInfo; index: TensorInfo; weight: TensorInfo };
  const { perRow, rows } = attrs as unknown as GatherAttrs & { rows: number };
  const io = hostIo(backend as KernelBackend);
  const C = dy.shape[1], M = index.shape[0] / perRow;
  const result = io.alloc([rows, C]);
  const G = io.read(dy) as Float32Array, I = io.read(index) as Int32Array, W = io.read(weight) as Float32Array;
  const out = io.read(result) as Float32Array;
  for (let m = 0; m < M; m++) {
    const g = m * C;
    for (let k = m * perRow; k < (m + 1) * perRow; k++) {
      const w = W[k];
      if (w === 0) continue;
      const t = I[k] * C;
      for (let c = 0; c < C; c++) out[t + c] += w * G[g + c];
    }
  }
  return result;
};

export function weightedGatherKernels(backendName: string): KernelConfig[] {
  return [
    { kernelName: GATHER, backendName, kernelFunc: gatherKernel },
    { kernelName: SCATTER, backendName, kernelFunc: scatterKernel },
  ];
}

/**
 * [M, C] = for each of the M rows, the weighted sum of `perRow` rows of `table` [N, C]
 * (`index`, `weight`: M * perRow each). Differentiable with respect to `table`.
 */
export function weightedGather(table: tf.Tensor2D, index: Int32Array, weight: Float32Array, perRow: number): tf.Tensor2D {
  const [N, C] = table.shape;
  const M = index.length / perRow;
  if (!tf.getKernel(GATHER, tf.getBackend())) {
    return tf.tidy(() => {
      const gathered = tf.gather(table, tf.tensor1d(index, 'int32'));
      const weighted = tf.mul(gathered, tf.tensor2d(weight, [weight.length, 1]));
      return tf.sum(tf.reshape(weighted, [M, perRow, C]), 1) as tf.Tensor2D;
    });
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const idx = tf.tensor1d(index, 'int32'), w = tf.tensor1d(weight);
    // Saved, so the tape keeps them for the gradient (a closure would see them freed by the forward tidy).
    save([idx, w]);
    return {
      value: tf.engine().runKernel(GATHER, { table: t, index: idx, weight: w }, { perRow } as never) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(SCATTER, { dy, index: saved[0], weight: saved[1] }, { perRow, rows: N } as never) as tf.Tensor2D,
    };
  });
  return f(table) as tf.Tensor2D;
}
