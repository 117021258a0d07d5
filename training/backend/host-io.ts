import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/** What kernels written in TypeScript use of the cpu and wasm backends. */
interface HostBackend {
  readSync?(dataId: object): Float32Array | Int32Array;
  makeTensorInfo?(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  typedArrayFromHeap?(t: TensorInfo): Float32Array | Int32Array;
  makeOutput?(shape: number[], dtype: 'float32', memoryOffset: undefined, values: Float32Array): TensorInfo;
}

/**
 * Read inputs and make outputs on the cpu backend or, without copying the inputs, on wasm (heap views:
 * read everything before `make`, whose allocation may grow the heap and detach them).
 */
export function hostIo(backend: KernelBackend) {
  const b = backend as unknown as HostBackend;
  return {
    read: (t: TensorInfo) => (b.typedArrayFromHeap ? b.typedArrayFromHeap(t) : b.readSync!(t.dataId)),
    make: (shape: number[], values: Float32Array) => (b.makeOutput ? b.makeOutput(shape, 'float32', undefined, values) : b.makeTensorInfo!(shape, 'float32', values)),
  };
}
