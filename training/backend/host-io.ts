import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/** What kernels written in TypeScript use of the cpu and wasm backends. */
interface HostBackend {
  readSync?(dataId: object): Float32Array | Int32Array;
  makeTensorInfo?(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  typedArrayFromHeap?(t: TensorInfo): Float32Array | Int32Array;
  makeOutput?(shape: number[], dtype: 'float32'): TensorInfo;
}

/**
 * Inputs and outputs of kernels written in TypeScript, on the cpu backend or on wasm without copies:
 * outputs are allocated on the wasm heap and written in place (a JS array copied in afterwards cost
 * as much as the kernel's arithmetic for a 256² x 32 map). On wasm, allocate EVERY output before
 * reading anything: an allocation may grow the heap, which detaches the views taken before it.
 */
export function hostIo(backend: KernelBackend) {
  const b = backend as unknown as HostBackend;
  const read = (t: TensorInfo) => (b.typedArrayFromHeap ? b.typedArrayFromHeap(t) : b.readSync!(t.dataId));
  return {
    read,
    /**
     * A new float32 tensor, zero-filled unless `overwritten` (the kernel writes every element: the
     * fill is a pass over the output); `read` it after the last allocation to write it.
     */
    alloc(shape: number[], overwritten = false): TensorInfo {
      if (b.makeOutput) {
        const out = b.makeOutput(shape, 'float32');
        if (!overwritten) b.typedArrayFromHeap!(out).fill(0);
        return out;
      }
      return b.makeTensorInfo!(shape, 'float32', new Float32Array(shape.reduce((a, d) => a * d, 1)));
    },
  };
}
