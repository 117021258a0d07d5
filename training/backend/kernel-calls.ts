import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';

/**
 * Calls other kernels of the same backend from inside a kernel (tfjs kernels are synchronous and
 * must not create tf.Tensors), tracking every intermediate so it is freed exactly once.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];
  private readonly views: TensorInfo[] = [];

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

  /**
   * A float32 tensor that aliases `size(shape)` elements of `x`'s memory from element `offset` on, no
   * copy (wasm only: every wasm tensor is a range of one heap). For contiguous sub-blocks that kernels
   * read directly, where wasm's Slice would copy at ~1 GB/s. Released (never freed) by finish/dispose;
   * `x` must outlive it.
   */
  view(x: TensorInfo, offset: number, shape: number[]): TensorInfo {
    const w = wasmInternals(this.backend);
    const size = shape.reduce((a, d) => a * d, 1);
    if (offset < 0 || offset + size > x.shape.reduce((a, d) => a * d, 1)) throw new Error(`emseg: view [${offset}, +${size}) outside a tensor of shape ${x.shape}`);
    const v = w.makeOutput(shape, 'float32', w.dataIdMap.get(x.dataId)!.memoryOffset + 4 * offset);
    this.views.push(v);
    return v;
  }

  /** The float32 heap view of a wasm tensor (for the few kernels written in TypeScript). */
  heap(x: TensorInfo): Float32Array {
    return wasmInternals(this.backend).typedArrayFromHeap(x) as Float32Array;
  }

  /** A new, uninitialised float32 wasm tensor (tracked like kernel outputs). */
  alloc(shape: number[]): TensorInfo {
    const out = wasmInternals(this.backend).makeOutput(shape, 'float32');
    this.temps.push(out);
    return out;
  }

  /** Keep `result` alive and free every other intermediate. */
  finish(result: TensorInfo): TensorInfo {
    this.releaseViews();
    for (const t of this.temps) if (t !== result) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
    return result;
  }

  /** Free everything (on error). */
  dispose(): void {
    this.releaseViews();
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }

  private releaseViews(): void {
    const w = this.views.length ? wasmInternals(this.backend) : null;
    for (const v of this.views) {
      // Unregister without freeing: the memory belongs to the viewed tensor.
      const id = w!.dataIdMap.get(v.dataId)!.id;
      w!.dataIdMap.delete(v.dataId);
      w!.wasm.tfjs.disposeData(id);
    }
    this.views.length = 0;
  }
}

/** The parts of tfjs-backend-wasm 4.22's BackendWasm that views and TypeScript kernels use. */
interface WasmInternals {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined; delete(dataId: object): boolean };
  wasm: { tfjs: { disposeData(id: number): void } };
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function wasmInternals(backend: KernelBackend): WasmInternals {
  const b = backend as unknown as Partial<WasmInternals>;
  if (!b.dataIdMap || !b.makeOutput || !b.typedArrayFromHeap || typeof b.wasm?.tfjs?.disposeData !== 'function') {
    throw new Error('emseg: these kernels need the tfjs wasm backend (4.x internals)');
  }
  return b as WasmInternals;
}
