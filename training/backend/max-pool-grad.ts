import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-calls.ts';

/**
 * MaxPoolGrad for wasm, written in TypeScript on the heap: the wasm backend's own kernel took 64 ms
 * for the stem's 3 x 3 / 2 pool of a 256 x 256 x 32 map (5 % of a training step; this one: ~16 ms),
 * and it drops the gradient of windows whose values are all negative. Each output's gradient goes to
 * the first maximum of its window in row-major order (the cpu backend's rule); padding never wins.
 * A window whose pooled value no tap equals (NaN inputs) passes no gradient.
 */
export function maxPoolGrad(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { dy, input, output } = inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs.filterSize as [number, number] | number,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as 'valid' | 'same' | number,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
    const { top, left } = info.padInfo;
    const s = new KernelScope(backend as KernelBackend, backendName);
    try {
      const dx = s.alloc([n, H, W, C]);
      const x = s.heap(input), g = s.heap(dy), out = s.heap(dx), y = s.heap(output);
      out.fill(0);
      // Per output pixel: the in-bounds taps' offsets in row-major order (the tie order); per channel
      // the gradient goes to the first tap equal to the pooled value (the forward output, so one
      // comparison per tap: a running argmax's data-dependent branches ran 5x slower on real maps).
      const taps = new Int32Array(fh * fw);
      for (let img = 0; img < n; img++) {
        for (let r = 0; r < oh; r++) {
          for (let q = 0; q < ow; q++) {
            let nt = 0;
            for (let fy = 0; fy < fh; fy++) {
              const yy = r * sh - top + fy;
              if (yy < 0 || yy >= H) continue;
              for (let fx = 0; fx < fw; fx++) {
                const xx = q * sw - left + fx;
                if (xx >= 0 && xx < W) taps[nt++] = ((img * H + yy) * W + xx) * C;
              }
            }
            const o = ((img * oh + r) * ow + q) * C;
            for (let c = 0; c < C; c++) {
              const m = y[o + c];
              for (let t = 0; t < nt; t++) {
                if (x[taps[t] + c] === m) {
                  out[taps[t] + c] += g[o + c];
                  break;
                }
              }
            }
          }
        }
      }
      return s.finish(dx);
    } catch (e) {
      s.dispose();
      throw e;
    }
  };
}

export function poolGradientKernels(backendName: string): KernelConfig[] {
  return [{ kernelName: 'MaxPoolGrad', backendName, kernelFunc: maxPoolGrad(backendName) }];
}
