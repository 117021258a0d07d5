import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-calls.ts';

/**
 * MaxPoolGrad for wasm, written in TypeScript on the heap: the wasm backend's own kernel took 64 ms
 * for the stem's 3 x 3 / 2 pool of a 256 x 256 x 32 map (5 % of a training step; this one: ~25 ms),
 * and it drops the gradient of windows whose values are all negative. Each output's gradient goes to
 * the first maximum of its window in row-major order (the cpu backend's rule); padding never wins.
 */
export function maxPoolGrad(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
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
      const x = s.heap(input), g = s.heap(dy), out = s.heap(dx);
      out.fill(0);
      const best = new Float32Array(C);
      const at = new Int32Array(C);
      for (let img = 0; img < n; img++) {
        for (let r = 0; r < oh; r++) {
          for (let q = 0; q < ow; q++) {
            best.fill(-Infinity);
            at.fill(-1);
            for (let fy = 0; fy < fh; fy++) {
              const y = r * sh - top + fy;
              if (y < 0 || y >= H) continue;
              for (let fx = 0; fx < fw; fx++) {
                const xx = q * sw - left + fx;
                if (xx < 0 || xx >= W) continue;
                const base = ((img * H + y) * W + xx) * C;
                for (let c = 0; c < C; c++) {
                  if (x[base + c] > best[c]) {
                    best[c] = x[base + c];
                    at[c] = base + c;
                  }
                }
              }
            }
            const o = ((img * oh + r) * ow + q) * C;
            for (let c = 0; c < C; c++) if (at[c] >= 0) out[at[c]] += g[o + c];
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
