import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { hostIo } from './host-io.ts';

/**
 * GroupNorm (NHWC) and its gradient as two kernels written in TypeScript: the composition of
 * broadcasting primitives (mean, subtract, square, multiply, add and their gradients) costs about a
 * dozen passes over the activation on wasm and was ~15 % of a detector training step; these take two
 * passes forward and three backward (float64 sums per channel, then per-channel affine maps). On backends without them (tfjs-node) the
 * composition runs (`groupNorm` checks).
 */
const FORWARD = 'EmsegGroupNorm';
const BACKWARD = 'EmsegGroupNormGrad';

interface Attrs {
  groups: number;
  eps: number;
}

/**
 * Per image: sums over pixels of each channel of x and x^2 (float64), the pass every kernel starts
 * with. Per-channel accumulators keep the inner loop a straight run over channels.
 */
function channelSums(a: Float32Array, b: Float32Array | null, img: number, hw: number, C: number): { s1: Float64Array; s2: Float64Array } {
  const s1 = new Float64Array(C), s2 = new Float64Array(C);
  for (let p = 0, base = img * hw * C; p < hw; p++, base += C) {
    for (let c = 0; c < C; c++) {
      const v = a[base + c];
      s1[c] += v;
      s2[c] += v * (b ? b[base + c] : v);
    }
  }
  return { s1, s2 };
}

/** Mean and 1/std of each group of one image, from its channel sums of x and x^2. */
function groupStatistics(s1: Float64Array, s2: Float64Array, C: number, G: number, hw: number, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const cg = C / G, count = hw * cg;
  const mean = new Float64Array(G), rstd = new Float64Array(G);
  for (let g = 0; g < G; g++) {
    let s = 0, q = 0;
    for (let c = g * cg; c < (g + 1) * cg; c++) {
      s += s1[c];
      q += s2[c];
    }
    mean[g] = s / count;
    // E[x^2] - E[x]^2 in float64 over float32 inputs: no cancellation problem at these sizes.
    rstd[g] = 1 / Math.sqrt(Math.max(q / count - mean[g] * mean[g], 0) + eps);
  }
  return { mean, rstd };
}

/** out = a * P[c] + b * Q[c] + R[c] over one image (b optional): the shape of both output passes. */
function affinePass(out: Float32Array, a: Float32Array, P: Float64Array, b: Float32Array | null, Q: Float64Array | null, R: Float64Array, img: number, hw: number, C: number): void {
  const p32 = Float32Array.from(P), q32 = Q ? Float32Array.from(Q) : null, r32 = Float32Array.from(R);
  for (let p = 0, base = img * hw * C; p < hw; p++, base += C) {
    if (b && q32) for (let c = 0; c < C; c++) out[base + c] = a[base + c] * p32[c] + b[base + c] * q32[c] + r32[c];
    else for (let c = 0; c < C; c++) out[base + c] = a[base + c] * p32[c] + r32[c];
  }
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { groups: G, eps } = attrs as unknown as Attrs;
  const [n, h, w, C] = x.shape;
  const io = hostIo(backend as KernelBackend);
  const X = io.read(x) as Float32Array, ga = io.read(gamma) as Float32Array, be = io.read(beta) as Float32Array;
  const hw = h * w, cg = C / G;
  const out = new Float32Array(X.length);
  for (let img = 0; img < n; img++) {
    const { s1, s2 } = channelSums(X, null, img, hw, C);
    const { mean, rstd } = groupStatistics(s1, s2, C, G, hw, eps);
    // y = (x - mean) * rstd * gamma + beta = x * scale + shift per channel.
    const scale = new Float64Array(C), shift = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / cg);
      scale[c] = rstd[g] * ga[c];
      shift[c] = be[c] - mean[g] * scale[c];
    }
    affinePass(out, X, scale, null, null, shift, img, hw, C);
  }
  return io.make([n, h, w, C], out);
};

const backward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma } = inputs as { dy: TensorInfo; x: TensorInfo; gamma: TensorInfo };
  const { groups: G, eps } = attrs as unknown as Attrs;
  const [n, h, w, C] = x.shape;
  const io = hostIo(backend as KernelBackend);
  const X = io.read(x) as Float32Array, D = io.read(dy) as Float32Array, ga = io.read(gamma) as Float32Array;
  const hw = h * w, cg = C / G, count = hw * cg;
  const dGamma = new Float64Array(C), dBeta = new Float64Array(C);
  const dx = new Float32Array(X.length);
  for (let img = 0; img < n; img++) {
    const { s1: sx, s2: sxx } = channelSums(X, null, img, hw, C);
    const { mean, rstd } = groupStatistics(sx, sxx, C, G, hw, eps);
    // Per channel sums of dy and dy * x give dbeta, dgamma (dy . xhat) and, per group, the means of
    // g = dy * gamma and g * xhat; then dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), which is
    // dy * P[c] + x * Q[c] + R[c].
    const { s1: sd, s2: sdx } = channelSums(D, X, img, hw, C);
    const mg = new Float64Array(G), mgx = new Float64Array(G);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / cg);
      const dyXhat = rstd[g] * (sdx[c] - mean[g] * sd[c]);
      dBeta[c] += sd[c];
      dGamma[c] += dyXhat;
      mg[g] += (ga[c] * sd[c]) / count;
      mgx[g] += (ga[c] * dyXhat) / count;
    }
    const P = new Float64Array(C), Q = new Float64Array(C), R = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / cg);
      P[c] = rstd[g] * ga[c];
      Q[c] = -rstd[g] * rstd[g] * mgx[g];
      R[c] = rstd[g] * (mean[g] * rstd[g] * mgx[g] - mg[g]);
    }
    affinePass(dx, D, P, X, Q, R, img, hw, C);
  }
  return [io.make([n, h, w, C], dx), io.make([C], Float32Array.from(dGamma)), io.make([C], Float32Array.from(dBeta))];
};

export function groupNormKernels(backendName: string): KernelConfig[] {
  return [
    { kernelName: FORWARD, backendName, kernelFunc: forward },
    { kernelName: BACKWARD, backendName, kernelFunc: backward },
  ];
}

/** The composition: statistics per (image, group) over H, W and the group's channels. */
function groupNormComposite(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  // Broadcasting primitives: their gradients are reductions, not the Tile tf.batchNorm's uses.
  const g = tf.reshape(x, [n, h * w, groups, c / groups]);
  const mean = tf.mean(g, [1, 3], true);
  const centred = tf.sub(g, mean);
  const variance = tf.mean(tf.square(centred), [1, 3], true);
  const normed = tf.reshape(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), [n, h, w, c]);
  return tf.add(tf.mul(normed, gamma), beta) as tf.Tensor4D;
}

/** GroupNorm of an NHWC activation with per-channel scale and shift; differentiable in all three. */
export function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor4D {
  if (!tf.getKernel(FORWARD, tf.getBackend())) return groupNormComposite(x, groups, gamma, beta, eps);
  const attrs = { groups, eps } as never;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, ga, be, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xx, ga]);
    return {
      value: tf.engine().runKernel(FORWARD, { x: xx, gamma: ga, beta: be }, attrs) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(BACKWARD, { dy, x: saved[0], gamma: saved[1] }, attrs) as tf.Tensor[],
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}
