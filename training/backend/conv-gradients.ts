import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-calls.ts';

/**
 * Convolution gradient kernels built from the fast kernels the wasm backend has (XNNPACK Conv2D and
 * MatMul run at 20-30 GFLOP/s here), replacing the missing `Conv2DBackpropFilter` and the slow
 * reference `Conv2DBackpropInput` (~2 GFLOP/s, 10x slower than the forward convolution).
 *
 * - Filter gradient as ONE matrix product: dW[(kh,kw,ci), co] = colsT[(kh,kw,ci), p] . dy[p, co],
 *   where colsT is the im2col matrix built already transposed (channel-major slices of the padded
 *   input, split into stride phases), because MatMul is fast only without transposed operands
 *   (transposeA runs at ~2 GFLOP/s) and strided slices are slow. For strided convolutions the
 *   im2col matrix comes from a depthwise convolution with one-hot taps instead (3x faster there).
 * - Input gradient as a forward convolution of the output gradient with the spatially flipped,
 *   in/out-swapped filter; strides > 1 insert zeros between output-gradient pixels first.
 * NHWC only, dilation 1 (tfjs has no gradient for dilated convolutions either).
 */

function convInfo(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: NamedAttrMap) {
  const strides = attrs.strides as number | [number, number];
  const pad = attrs.pad as backend_util.PadInfo['type'] | number | backend_util.ExplicitPadding;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw new Error('emseg conv gradients: only NHWC is supported');
  return backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad as never, attrs.dimRoundingMode as never, false, 'channelsLast');
}

interface WasmOutputs {
  makeOutput(shape: number[], dtype: 'float32', memoryOffset: number | undefined, values: Float32Array): TensorInfo;
}

const tapCache = new WeakMap<KernelBackend, Map<string, TensorInfo>>();

/** Depthwise filter [kh, kw, ci, kh*kw] with out[c*kh*kw + t] = the input at tap t (kept per backend). */
function oneHotTaps(backend: KernelBackend, kh: number, kw: number, ci: number): TensorInfo {
  let cache = tapCache.get(backend);
  if (!cache) tapCache.set(backend, (cache = new Map()));
  const key = `${kh}x${kw}x${ci}`;
  let t = cache.get(key);
  if (!t) {
    const k = kh * kw;
    const values = new Float32Array(kh * kw * ci * k);
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < ci; c++) values[((i * kw + j) * ci + c) * k + i * kw + j] = 1;
    // Created once and never freed: a few KB per layer shape.
    t = (backend as unknown as WasmOutputs).makeOutput([kh, kw, ci, k], 'float32', undefined, values);
    cache.set(key, t);
  }
  return t;
}

/** True for a convolution whose kernel covers its whole unpadded input (output 1 x 1): an FC layer. */
function isFullyConnected(info: backend_util.Conv2DInfo): boolean {
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
      if (sh > 1 || sw > 1) {
        // Strided: im2col by a depthwise convolution with one-hot taps (XNNPACK, stride built in),
        // cols [p, (ci, tap)]; then dW^T = dy^T . cols, with only dy (co channels) transposed.
        const taps = oneHotTaps(backend as KernelBackend, kh, kw, ci);
        const cols = s.run('DepthwiseConv2dNative', { x, filter: taps }, { strides: [sh, sw], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] });
        const dyT = s.transpose(s.reshape(dy, [n * oh * ow, co]), [1, 0]);
        const product = s.run('BatchMatMul', { a: s.reshape(dyT, [1, co, n * oh * ow]), b: s.reshape(cols, [1, n * oh * ow, ci * kh * kw]) }, { transposeA: false, transposeB: false });
        return s.finish(s.transpose(s.reshape(product, [co, ci, kh, kw]), [2, 3, 1, 0]));
      }
      // Pad, and round the padded size up to a multiple of the stride so it splits into phases.
      const hp = Math.ceil((info.inHeight + top + bottom) / sh) * sh;
      const wp = Math.ceil((info.inWidth + left + right) / sw) * sw;
      const extraB = hp - (info.inHeight + top + bottom), extraR = wp - (info.inWidth + left + right);
      const padded = top || bottom + extraB || left || right + extraR ? s.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom + extraB], [left, right + extraR], [0, 0]], constantValue: 0 }) : x;
      // Channel-major phases [sh, sw, ci, n, hp/sh, wp/sw]: tap (i, j) is then a plain, unstrided
      // slice of phase (i mod s, j mod s) at offset (i div s, j div s). (Strided slices are ~10x
      // slower on wasm.) Each tap is one block of rows of the transposed im2col matrix.
      const hq = hp / sh, wq = wp / sw;
      // Kept 4-D ([sh*sw*ci, n, hq, wq]) because wasm slices of rank > 4 take a slow generic path.
      const phases =
        sh === 1 && sw === 1
          ? s.transpose(padded, [3, 0, 1, 2])
          : s.reshape(s.transpose(s.reshape(padded, [n, hq, sh, wq, sw, ci]), [2, 4, 5, 0, 1, 3]), [sh * sw * ci, n, hq, wq]);
      const taps: TensorInfo[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const phase = (i % sh) * sw + (j % sw);
          const tap = s.run('Slice', { x: phases }, { begin: [phase * ci, 0, Math.floor(i / sh), Math.floor(j / sw)], size: [ci, n, oh, ow] });
          taps.push(s.reshape(tap, [ci, n * oh * ow]));
        }
      }
      const stacked = taps.length === 1 ? taps[0] : s.run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
      const colsT = s.reshape(stacked, [kh * kw * ci, n * oh * ow]);
      const dy2 = s.reshape(dy, [1, n * oh * ow, co]);
      const product = s.run('BatchMatMul', { a: s.reshape(colsT, [1, kh * kw * ci, n * oh * ow]), b: dy2 }, { transposeA: false, transposeB: false });
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
      let g = dy;
      // Zero-insertion for strides: [n, oh, 1, ow, 1, co] padded to [n, oh, sh, ow, sw, co].
      if (sh > 1 || sw > 1) {
        const r6 = s.reshape(dy, [n, oh, 1, ow, 1, co]);
        const p6 = s.run('PadV2', { x: r6 }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
        g = s.reshape(p6, [n, oh * sh, ow * sw, co]);
      }
      const gh = g.shape[1], gw = g.shape[2];
      // Full correlation needs kh - 1 - top rows before; after, whatever makes the output ih rows.
      const padTop = kh - 1 - top, padLeft = kw - 1 - left;
      const padBottom = ih + kh - 1 - gh - padTop, padRight = iw + kw - 1 - gw - padLeft;
      const crop = (v: number) => Math.max(0, -v);
      let src = g;
      if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
        src = s.run('Slice', { x: g }, { begin: [0, crop(padTop), crop(padLeft), 0], size: [n, gh - crop(padTop) - crop(padBottom), gw - crop(padLeft) - crop(padRight), co] });
      }
      const pads = [Math.max(0, padTop), Math.max(0, padBottom), Math.max(0, padLeft), Math.max(0, padRight)];
      if (pads.some((p) => p > 0)) src = s.run('PadV2', { x: src }, { paddings: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]], constantValue: 0 });
      // Flip spatially and swap in/out channels: [kh, kw, ci, co] -> [kh, kw, co, ci].
      const flipped = s.transpose(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
      const dx = s.run('Conv2D', { x: src, filter: flipped }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
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
