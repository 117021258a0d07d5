import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';

/**
 * Calls other kernels of the same backend from inside a kernel (tfjs kernels are synchronous and
 * must not create tf.Tensors), tracking every intermediate so it is freed exactly once.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(
    private readonly backend: KernelBackend,
    private readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(kernelName, this.backendName);
    if (!kernel) throw new Error(`emseg: kernel ${kernelName} is missing on backend ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend }) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Keep `result` alive and free every other intermediate. */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.temps) if (t !== result) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
    return result;
  }

  /** Free everything (on error). */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}
