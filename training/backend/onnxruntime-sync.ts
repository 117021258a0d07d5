import { createRequire } from 'node:module';

/**
 * onnxruntime-node's native session, called SYNCHRONOUSLY. tfjs kernels must return their outputs
 * synchronously, and onnxruntime-node's public `InferenceSession.run` is async only because it defers
 * the native call with setImmediate (node_modules/onnxruntime-node/dist/backend.js); the native
 * binding's `loadModel` and `run` are synchronous. This module reaches that binding
 * (`onnxruntime-node/dist/binding`, checked against the 1.30 package the lockfile pins) and returns
 * null when it is absent or has another shape, so callers fall back to pure-wasm kernels.
 */

/** A float32 tensor as the binding reads and writes it: a typed array plus its dimensions. */
export interface HostTensor {
  data: Float32Array;
  dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, { data: Float32Array; dims: readonly number[] }>;
}

interface Runtime {
  Session: new () => NativeSession;
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  version: string;
}

let runtime: Runtime | null | undefined;

function loadRuntime(): Runtime | null {
  if (runtime !== undefined) return runtime;
  runtime = null;
  try {
    const require = createRequire(import.meta.url);
    const { binding, initOrt } = require('onnxruntime-node/dist/binding') as { binding?: { InferenceSession?: unknown }; initOrt?: () => void };
    const { Tensor } = require('onnxruntime-common') as { Tensor?: unknown };
    const { version } = require('onnxruntime-node/package.json') as { version: string };
    if (typeof binding?.InferenceSession !== 'function' || typeof initOrt !== 'function' || typeof Tensor !== 'function') return null;
    initOrt();
    runtime = { Session: binding.InferenceSession as Runtime['Session'], Tensor: Tensor as Runtime['Tensor'], version };
  } catch {
    runtime = null; // not installed, or a binding of another shape: the caller uses other kernels
  }
  return runtime;
}

/** The onnxruntime-node version whose native binding is usable synchronously, or null. */
export function syncRuntimeVersion(): string | null {
  return loadRuntime()?.version ?? null;
}

/** One ONNX model loaded on onnxruntime's CPU provider, run synchronously. */
export class SyncSession {
  private readonly session: NativeSession;
  private readonly rt: Runtime;

  constructor(model: Uint8Array, threads: number) {
    const rt = loadRuntime();
    if (!rt) throw new Error('emseg: onnxruntime-node native binding is not available');
    this.rt = rt;
    this.session = new rt.Session();
    this.session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      // Threads sleep between kernels instead of spinning: training processes share the cores.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  }

  /**
   * Run with every input read in place and the single output `y` written straight into `out.data`
   * (a preallocated fetch, no copy back); `out.dims` must be the shape the graph produces.
   */
  runInto(feeds: Record<string, HostTensor>, out: HostTensor): void {
    const f: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) f[name] = new this.rt.Tensor('float32', t.data, t.dims);
    this.session.run(f, { y: new this.rt.Tensor('float32', out.data, out.dims) }, {});
  }

  /** Run with onnxruntime allocating the output `y` (its shape unknown beforehand). */
  run(feeds: Record<string, HostTensor>): HostTensor {
    const f: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) f[name] = new this.rt.Tensor('float32', t.data, t.dims);
    const { y } = this.session.run(f, { y: null }, {});
    return { data: y.data, dims: y.dims };
  }
}
