import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm 4.x used here. */
interface RefCounted {
  incRef(dataId: object): void;
}

/**
 * Identity for wasm that shares its input's data, as the cpu backend's does. wasm's own Identity
 * copies, and tfjs's engine clones every tensor a kernel saves for its gradient (`engine.clone` in
 * saveTensorsForBackwardMode): those copies were ~7 ms of a backbone training step (bench:train).
 * Sharing is safe because tfjs tensors never change their data: a Variable's assign swaps in another
 * data id, and no wasm kernel (nor any of emseg's) writes into an input.
 */
const sharedIdentity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as unknown as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export function identityKernels(backendName: string): KernelConfig[] {
  return [{ kernelName: 'Identity', backendName, kernelFunc: sharedIdentity }];
}
