import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface WasmLikeBackend {
  typedArrayFromHeap(t: TensorInfo): ArrayLike<number> & { [i: number]: number };
  makeOutput(shape: number[], dtype: TensorInfo['dtype']): TensorInfo;
}

/**
 * `UnsortedSegmentSum`, missing on the wasm backend and needed for the gradient of `gather` (so for
 * a trainable RoIAlign written as bilinear gathers). out[segmentIds[i], ...] += x[i, ...]; ids out of
 * [0, numSegments) are dropped, as TensorFlow does. A plain JS loop over wasm memory: it is a
 * scatter-add with no arithmetic to vectorise, bound by memory traffic.
 */
export function unsortedSegmentSum(): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const numSegments = attrs.numSegments as number;
    const b = backend as unknown as WasmLikeBackend;
    const ids = b.typedArrayFromHeap(segmentIds);
    const idRank = segmentIds.shape.length;
    const inner = x.shape.slice(idRank).reduce((p, d) => p * d, 1);
    const out = b.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype);
    const dst = b.typedArrayFromHeap(out);
    const src = b.typedArrayFromHeap(x);
    for (let i = 0; i < dst.length; i++) dst[i] = 0;
    for (let i = 0; i < ids.length; i++) {
      const seg = ids[i];
      if (seg < 0 || seg >= numSegments) continue;
      const from = i * inner, to = seg * inner;
      for (let k = 0; k < inner; k++) dst[to + k] += src[from + k];
    }
    return out;
  };
}

export function segmentKernels(backendName: string): KernelConfig[] {
  return [{ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSum() }];
}
