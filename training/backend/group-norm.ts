import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { hostIo } from './host-io.ts';

/**
 * GroupNorm (NHWC) and its gradient as two kernels written in TypeScript: the composition of
 * broadcasting primitives (mean, subtract, square, multiply, add and their gradients) costs about a
 * dozen passes over the activation on wasm and was ~15 % of a detector training step; these take two
 * passes each way (float64 sums per channel, then a per-channel affine map), the gradient reusing the
 * forward pass's statistics. On backends without them (tfjs-node) the composition runs (`groupNorm`
 * checks).
 */
const FORWARD = 'EmsegGroupNorm';
const BACKWARD = 'EmsegGroupNormGrad';

interface Attrs {
  groups: number;
  eps: number;
}

/**
 * Per image: sums over pixels of each channel of a and a * b (a^2 when b is null), in float64, the
 * pass every kernel starts with. Written by hand, channel block by channel block with the block's 8
 * sums in locals: per-channel accumulator arrays in the inner loop ran 4x slower in V8 (7.5 vs 1.6 ms
 * for a 256² x 32 map; 4-channel blocks 1.9 ms) and tfjs has no fused kernel for it.
 */
function channelSums(a: Float32Array, b: Float32Array | null, img: number, hw: number, C: number): { s1: Float64Array; s2: Float64Array } {
  const s1 = new Float64Array(C), s2 = new Float64Array(C);
  const start = img * hw * C, end = start + hw * C;
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0, q4 = 0, q5 = 0, q6 = 0, q7 = 0;
    if (b) {
      for (let i = start + c; i < end; i += C) {
        const v0 = a[i], v1 = a[i + 1], v2 = a[i + 2], v3 = a[i + 3], v4 = a[i + 4], v5 = a[i + 5], v6 = a[i + 6], v7 = a[i + 7];
        a0 += v0; a1 += v1; a2 += v2; a3 += v3; a4 += v4; a5 += v5; a6 += v6; a7 += v7;
        q0 += v0 * b[i]; q1 += v1 * b[i + 1]; q2 += v2 * b[i + 2]; q3 += v3 * b[i + 3]; q4 += v4 * b[i + 4]; q5 += v5 * b[i + 5]; q6 += v6 * b[i + 6]; q7 += v7 * b[i + 7];
      }
    } else {
      for (let i = start + c; i < end; i += C) {
        const v0 = a[i], v1 = a[i + 1], v2 = a[i + 2], v3 = a[i + 3], v4 = a[i + 4], v5 = a[i + 5], v6 = a[i + 6], v7 = a[i + 7];
        a0 += v0; a1 += v1; a2 += v2; a3 += v3; a4 += v4; a5 += v5; a6 += v6; a7 += v7;
        q0 += v0 * v0; q1 += v1 * v1; q2 += v2 * v2; q3 += v3 * v3; q4 += v4 * v4; q5 += v5 * v5; q6 += v6 * v6; q7 += v7 * v7;
      }
    }
    s1[c] = a0; s1[c + 1] = a1; s1[c + 2] = a2; s1[c + 3] = a3; s1[c + 4] = a4; s1[c + 5] = a5; s1[c + 6] = a6; s1[c + 7] = a7;
    s2[c] = q0; s2[c + 1] = q1; s2[c + 2] = q2; s2[c + 3] = q3; s2[c + 4] = q4; s2[c + 5] = q5; s2[c + 6] = q6; s2[c + 7] = q7;
  }
  for (; c < C; c++) {
    let a0 = 0, q0 = 0;
    for (let i = start + c; i < end; i += C) {
      a0 += a[i];
      q0 += a[i] * (b ? b[i] : a[i]);
    }
    s1[c] = a0;
    s2[c] = q0;
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

/**
 * out = a * P[c] + b * Q[c] + R[c] over one image (b optional): the shape of both output passes. In
 * blocks of 8 channels with their coefficients in locals, as channelSums (1.7 vs 5.0 ms for 256² x 32).
 */
function affinePass(out: Float32Array, a: Float32Array, P: Float64Array, b: Float32Array | null, Q: Float64Array | null, R: Float64Array, img: number, hw: number, C: number): void {
  const p = Float32Array.from(P), q = Q ? Float32Array.from(Q) : new Float32Array(C), r = Float32Array.from(R);
  const start = img * hw * C, end = start + hw * C;
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const p0 = p[c], p1 = p[c + 1], p2 = p[c + 2], p3 = p[c + 3], p4 = p[c + 4], p5 = p[c + 5], p6 = p[c + 6], p7 = p[c + 7];
    const r0 = r[c], r1 = r[c + 1], r2 = r[c + 2], r3 = r[c + 3], r4 = r[c + 4], r5 = r[c + 5], r6 = r[c + 6], r7 = r[c + 7];
    if (b) {
      const q0 = q[c], q1 = q[c + 1], q2 = q[c + 2], q3 = q[c + 3], q4 = q[c + 4], q5 = q[c + 5], q6 = q[c + 6], q7 = q[c + 7];
      for (let i = start + c; i < end; i += C) {
        out[i] = a[i] * p0 + b[i] * q0 + r0;
        out[i + 1] = a[i + 1] * p1 + b[i + 1] * q1 + r1;
        out[i + 2] = a[i + 2] * p2 + b[i + 2] * q2 + r2;
        out[i + 3] = a[i + 3] * p3 + b[i + 3] * q3 + r3;
        out[i + 4] = a[i + 4] * p4 + b[i + 4] * q4 + r4;
        out[i + 5] = a[i + 5] * p5 + b[i + 5] * q5 + r5;
        out[i + 6] = a[i + 6] * p6 + b[i + 6] * q6 + r6;
        out[i + 7] = a[i + 7] * p7 + b[i + 7] * q7 + r7;
      }
    } else {
      for (let i = start + c; i < end; i += C) {
        out[i] = a[i] * p0 + r0;
        out[i + 1] = a[i + 1] * p1 + r1;
        out[i + 2] = a[i + 2] * p2 + r2;
        out[i + 3] = a[i + 3] * p3 + r3;
        out[i + 4] = a[i + 4] * p4 + r4;
        out[i + 5] = a[i + 5] * p5 + r5;
        out[i + 6] = a[i + 6] * p6 + r6;
        out[i + 7] = a[i + 7] * p7 + r7;
      }
    }
  }
  for (; c < C; c++) for (let i = start + c; i < end; i += C) out[i] = a[i] * p[c] + (b ? b[i] * q[c] : 0) + r[c];
}

/**
 * The forward pass's per-(image, group) mean and 1/std, kept for the gradient so that it skips the
 * pass recomputing them (a third of its reads). They travel as a float32 tensor holding the float64
 * values' bytes, so the gradient uses exactly the statistics the forward normalised with.
 */
function statisticsLength(n: number, G: number): number {
  return 4 * n * G; // 2 float64 values per group = 4 float32 slots
}

function storeStatistics(into: Float32Array, values: Float64Array): void {
  new Uint8Array(into.buffer, into.byteOffset, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

function loadStatistics(from: Float32Array, count: number): Float64Array {
  const values = new Float64Array(count);
  new Uint8Array(values.buffer).set(new Uint8Array(from.buffer, from.byteOffset, values.byteLength));
  return values;
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { groups: G, eps } = attrs as unknown as Attrs;
  const [n, h, w, C] = x.shape;
  const io = hostIo(backend as KernelBackend);
  const result = io.alloc([n, h, w, C], true);
  const stats = io.alloc([statisticsLength(n, G)], true);
  const X = io.read(x) as Float32Array, ga = io.read(gamma) as Float32Array, be = io.read(beta) as Float32Array;
  const out = io.read(result) as Float32Array;
  const hw = h * w, cg = C / G;
  const saved = new Float64Array(2 * n * G);
  for (let img = 0; img < n; img++) {
    const { s1, s2 } = channelSums(X, null, img, hw, C);
    const { mean, rstd } = groupStatistics(s1, s2, C, G, hw, eps);
    saved.set(mean, 2 * img * G);
    saved.set(rstd, (2 * img + 1) * G);
    // y = (x - mean) * rstd * gamma + beta = x * scale + shift per channel.
    const scale = new Float64Array(C), shift = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / cg);
      scale[c] = rstd[g] * ga[c];
      shift[c] = be[c] - mean[g] * scale[c];
    }
    affinePass(out, X, scale, null, null, shift, img, hw, C);
  }
  storeStatistics(io.read(stats) as Float32Array, saved);
  return [result, stats];
};

const backward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma, stats } = inputs as { dy: TensorInfo; x: TensorInfo; gamma: TensorInfo; stats: TensorInfo };
  const { groups: G } = attrs as unknown as Attrs;
  const [n, h, w, C] = x.shape;
  const io = hostIo(backend as KernelBackend);
  const results = [io.alloc([n, h, w, C], true), io.alloc([C]), io.alloc([C])];
  const X = io.read(x) as Float32Array, D = io.read(dy) as Float32Array, ga = io.read(gamma) as Float32Array;
  const saved = loadStatistics(io.read(stats) as Float32Array, 2 * n * G);
  const dx = io.read(results[0]) as Float32Array;
  const hw = h * w, cg = C / G, count = hw * cg;
  const dGamma = new Float64Array(C), dBeta = new Float64Array(C);
  for (let img = 0; img < n; img++) {
    const mean = saved.subarray(2 * img * G, (2 * img + 1) * G), rstd = saved.subarray((2 * img + 1) * G, (2 * img + 2) * G);
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
  (io.read(results[1]) as Float32Array).set(dGamma);
  (io.read(results[2]) as Float32Array).set(dBeta);
  return results;
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
    const [y, stats] = tf.engine().runKernel(FORWARD, { x: xx, gamma: ga, beta: be }, attrs) as tf.Tensor[];
    save([xx, ga, stats]);
    return {
      value: y as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(BACKWARD, { dy, x: saved[0], gamma: saved[1], stats: saved[2] }, attrs) as tf.Tensor[],
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}
