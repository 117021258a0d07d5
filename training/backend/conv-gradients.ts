import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-calls.ts';

/**
 * Convolution gradient kernels built from the fast kernels the wasm backend has (XNNPACK Conv2D and
 * MatMul run at 20-30 GFLOP/s here), replacing the missing `Conv2DBackpropFilter` and the slow
 * reference `Conv2DBackpropInput` (~2 GFLOP/s, 10x slower than the forward convolution). Written by
 * hand because no library provides them; data movement that wasm's Slice, Concat, Reverse and
 * DepthToSpace do at ~1 GB/s is done with TypedArray copies on the heap instead.
 *
 * - Filter gradient as ONE matrix product: dW[(kh,kw,ci), co] = colsT[(kh,kw,ci), p] . dy[p, co],
 *   with colsT the im2col matrix built already transposed (MatMul is fast only without transposed
 *   operands: transposeA runs at ~2 GFLOP/s). Unstrided: each row of colsT is one contiguous window
 *   of the channel-major padded input (one memcpy); strided: gathered element by element.
 * - Input gradient as ONE forward convolution of the output gradient, sub-pixel style: every stride
 *   phase of dx is a correlation of dy with that phase's taps of the flipped, in/out-swapped filter,
 *   all phases being output channels of one convolution, interleaved afterwards (no zero insertion,
 *   which would multiply the work by the stride squared).
 * - A kernel covering its whole input (the box head's fc1) is a fully connected layer: x^T . dy and
 *   dy . W^T.
 * NHWC only, dilation 1 (tfjs has no gradient for dilated convolutions either).
 */

function convInfo(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: NamedAttrMap) {
  const strides = attrs.strides as number | [number, number];
  const pad = attrs.pad as backend_util.PadInfo['type'] | number | backend_util.ExplicitPadding;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw new Error('emseg conv gradients: only NHWC is supported');
  return backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad as never, attrs.dimRoundingMode as never, false, 'channelsLast');
}

/** True for a convolution whose kernel covers its whole unpadded input (output 1 x 1): an FC layer. */
export function isFullyConnected(info: backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.outHeight === 1 && info.outWidth === 1 && info.filterHeight === info.inHeight && info.filterWidth === info.inWidth && !p.top && !p.bottom && !p.left && !p.right;
}

export function conv2dBackpropFilter(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const filterShape = attrs.filterShape as [number, number, number, number];
    const info = convInfo(x.shape as [number, number, number, number], filterShape, attrs);
    const { batchSize: n, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const { top, bottom, left, right } = info.padInfo;
    const s = new KernelScope(backend as KernelBackend, backendName);
    try {
      if (isFullyConnected(info)) {
        // A kernel covering the whole (unpadded) input is a fully connected layer: dW = x^T . dy.
        const k = kh * kw * ci;
        const xT = s.transpose(s.reshape(x, [n, k]), [1, 0]);
        const product = s.run('BatchMatMul', { a: s.reshape(xT, [1, k, n]), b: s.reshape(dy, [1, n, co]) }, { transposeA: false, transposeB: false });
        return s.finish(s.reshape(product, [kh, kw, ci, co]));
      }
      // dW = colsT . DY as ONE product (MatMul is fast only without transposed operands), colsT the
      // transposed im2col matrix [(tap, c), pixel], built from the channel-major padded input by
      // copies on the heap: wasm's Slice + Concat copy at ~1 GB/s and cost as much as the product.
      if (sh === 1 && sw === 1) {
        // Unstrided: every row of colsT is one contiguous window of the channel-major input if the
        // pixels are the cells of the padded grid (hq x wq per image, plus a spare row) rather than the
        // output's: tap (i, j) is the window shifted by i * wq + j, and dy, zero-padded to the grid,
        // zeroes the cells that are no output pixel, so the product stays exact. One memcpy per row.
        const hp = info.inHeight + top + bottom, wq = info.inWidth + left + right;
        const hq = hp + 1;
        const X = s.transpose(s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom + 1], [left, right], [0, 0]], constantValue: 0 }), [3, 0, 1, 2]);
        const dyGrid = s.run('PadV2', { x: dy }, { paddings: [[0, 0], [0, hq - oh], [0, wq - ow], [0, 0]], constantValue: 0 });
        const cells = n * hq * wq, L = (n - 1) * hq * wq + oh * wq;
        const colsT = s.alloc([kh * kw * ci, L]);
        const src = s.heap(X), dst = s.heap(colsT); // after the last allocation (heap growth detaches views)
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            for (let c = 0; c < ci; c++) {
              const from = c * cells + i * wq + j;
              dst.set(src.subarray(from, from + L), ((i * kw + j) * ci + c) * L);
            }
          }
        }
        const product = s.run('BatchMatMul', { a: s.reshape(colsT, [1, kh * kw * ci, L]), b: s.view(dyGrid, 0, [1, L, co]) }, { transposeA: false, transposeB: false });
        return s.finish(s.reshape(product, [kh, kw, ci, co]));
      }
      // Strided: windows are strided, so colsT is gathered element by element over the output grid
      // (the strided layers are the small ones).
      const hp = info.inHeight + top + bottom, wp = info.inWidth + left + right;
      const X = s.transpose(s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }), [3, 0, 1, 2]);
      const L = n * oh * ow;
      const colsT = s.alloc([kh * kw * ci, L]);
      const src = s.heap(X), dst = s.heap(colsT);
      let k = 0;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          for (let c = 0; c < ci; c++) {
            for (let img = 0; img < n; img++) {
              for (let r = 0; r < oh; r++) {
                let from = ((c * n + img) * hp + r * sh + i) * wp + j;
                for (let col = 0; col < ow; col++, from += sw) dst[k++] = src[from];
              }
            }
          }
        }
      }
      const product = s.run('BatchMatMul', { a: s.reshape(colsT, [1, kh * kw * ci, L]), b: s.view(dy, 0, [1, L, co]) }, { transposeA: false, transposeB: false });
      return s.finish(s.reshape(product, [kh, kw, ci, co]));
    } catch (e) {
      s.dispose();
      throw e;
    }
  };
}

export function conv2dBackpropInput(backendName: string): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const inputShape = attrs.inputShape as [number, number, number, number];
    const info = convInfo(inputShape, filter.shape as [number, number, number, number], attrs);
    const { batchSize: n, inHeight: ih, inWidth: iw, outChannels: co, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const { top, left } = info.padInfo;
    const s = new KernelScope(backend as KernelBackend, backendName);
    try {
      if (isFullyConnected(info)) {
        // Fully connected: dx = dy . W^T (the zero-padded correlation below would do 49x the work for a 7x7 head).
        const k = kh * kw * info.inChannels;
        const wT = s.transpose(s.reshape(filter, [k, co]), [1, 0]);
        const product = s.run('BatchMatMul', { a: s.reshape(dy, [1, n, co]), b: s.reshape(wT, [1, co, k]) }, { transposeA: false, transposeB: false });
        return s.finish(s.reshape(product, [n, ih, iw, info.inChannels]));
      }
      // dx as ONE forward convolution of dy, sub-pixel style (no zero insertion, which would do s^2
      // times the work). In padded input coordinates Y = s*u + p, dx[Y] = sum over a of
      // dy[u - a] . W[s*a + p]^T: for each phase p a correlation of dy with the taps of that phase.
      // All phases are the output channels of one convolution with an A x B filter
      // F[b, ., o, (p, c)] = W[s*(A-1-b) + p, ., c, o] (zero past the kernel), then DepthToSpace
      // interleaves them and a crop drops the padding. Stride 1 is the plain flipped-filter case.
      const ci = info.inChannels;
      const A = Math.ceil(kh / sh), B = Math.ceil(kw / sw);
      const u0 = Math.floor(top / sh), v0 = Math.floor(left / sw);
      const U = Math.ceil((top + ih) / sh) - u0, V = Math.ceil((left + iw) / sw) - v0;
      // dy rows u0 - (A - 1) ... u0 + U - 1 (and columns alike): pad with zeros, or crop.
      const padTop = A - 1 - u0, padBottom = u0 + U - oh, padLeft = B - 1 - v0, padRight = v0 + V - ow;
      const crop = (v: number) => Math.max(0, -v);
      let src = dy;
      if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
        src = s.run('Slice', { x: dy }, { begin: [0, crop(padTop), crop(padLeft), 0], size: [n, oh - crop(padTop) - crop(padBottom), ow - crop(padLeft) - crop(padRight), co] });
      }
      const pads = [Math.max(0, padTop), Math.max(0, padBottom), Math.max(0, padLeft), Math.max(0, padRight)];
      if (pads.some((v) => v > 0)) src = s.run('PadV2', { x: src }, { paddings: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]], constantValue: 0 });
      // The phase filter, written on the heap (wasm's Reverse alone took 20 ms for a 3x3x256x256 filter).
      const P = sh * sw * ci;
      const F = s.alloc([A, B, co, P]);
      const w = s.heap(filter), f = s.heap(F);
      f.fill(0);
      for (let by = 0; by < A; by++) {
        for (let bx = 0; bx < B; bx++) {
          for (let py = 0; py < sh; py++) {
            const i = sh * (A - 1 - by) + py;
            if (i >= kh) continue;
            for (let px = 0; px < sw; px++) {
              const j = sw * (B - 1 - bx) + px;
              if (j >= kw) continue;
              for (let o = 0; o < co; o++) {
                const to = ((by * B + bx) * co + o) * P + (py * sw + px) * ci;
                const from = (i * kw + j) * ci * co + o;
                for (let c = 0; c < ci; c++) f[to + c] = w[from + c * co];
              }
            }
          }
        }
      }
      const y = s.run('Conv2D', { x: src, filter: F }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
      if (sh === 1 && sw === 1) return s.finish(y);
      // Interleave the phases and drop the padding in one pass on the heap: [n, U, V, (py, px, c)] ->
      // [n, ih, iw, c] (wasm's DepthToSpace took 20 ms for 0.5 M values).
      const oy = top - sh * u0, ox = left - sw * v0;
      const dx = s.alloc([n, ih, iw, ci]);
      const yv = s.heap(y), d = s.heap(dx);
      let k = 0;
      for (let img = 0; img < n; img++) {
        for (let r = 0; r < ih; r++) {
          const u = Math.floor((r + oy) / sh), py = (r + oy) % sh;
          for (let q = 0; q < iw; q++) {
            const v = Math.floor((q + ox) / sw), px = (q + ox) % sw;
            let from = ((img * U + u) * V + v) * P + (py * sw + px) * ci;
            for (let c = 0; c < ci; c++) d[k++] = yv[from++];
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

export function convGradientKernels(backendName: string): KernelConfig[] {
  return [
    { kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: conv2dBackpropFilter(backendName) },
    { kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: conv2dBackpropInput(backendName) },
  ];
}
