import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { EmsegError } from '../../core/errors.ts';
import { convGradientKernels } from './conv-gradients.ts';
import { poolGradientKernels } from './max-pool-grad.ts';
import { segmentKernels } from './unsorted-segment-sum.ts';
import { weightedGatherKernels } from './weighted-gather.ts';
import { groupNormKernels } from './group-norm.ts';
import { identityKernels } from './shared-identity.ts';
import { onnxruntimeConvKernels, setOnnxruntimeConvThreads } from './onnxruntime-convs.ts';
import { syncRuntimeVersion } from './onnxruntime-sync.ts';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** tfjs backend name in use: 'tensorflow' (tfjs-node or tfjs-node-gpu), 'wasm' or 'cpu'. */
  name: string;
  /** Human-readable description for logs, e.g. 'tfjs-node-gpu (CUDA)' or 'wasm (SIMD, 1 thread)'. */
  description: string;
}

let registered = false;
/** Whether wasm's convolutions run on onnxruntime (set by registerEmsegKernels). */
let onnxruntimeConvs = false;

/**
 * Which convolution kernels wasm uses: 'onnxruntime' (default when onnxruntime-node's native binding
 * loads) or 'wasm' (emseg's XNNPACK-based ones), e.g. to compare them: EMSEG_CONV_KERNELS=wasm.
 */
function wantOnnxruntimeConvs(): boolean {
  const v = process.env.EMSEG_CONV_KERNELS;
  if (v !== undefined && v !== 'wasm' && v !== 'onnxruntime') {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `EMSEG_CONV_KERNELS must be "wasm" or "onnxruntime", not "${v}"`);
  }
  return v !== 'wasm';
}

/**
 * Our kernels for wasm, replacing the missing and the slow ones. The cpu backend keeps tfjs's own
 * convolution and pooling kernels (the independent reference the tests compare against) and gets
 * only the fused kernels tfjs has no equivalent of.
 */
function registerEmsegKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of [...convGradientKernels('wasm'), ...poolGradientKernels('wasm'), ...segmentKernels('wasm'), ...identityKernels('wasm')]) {
    if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  if (wantOnnxruntimeConvs()) {
    // Wrap the kernels just registered (and wasm's own Conv2D): they stay the fallback.
    const configs = onnxruntimeConvKernels('wasm', (name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    for (const config of configs) {
      tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
    onnxruntimeConvs = configs.length > 0;
  }
  // Fused kernels with no tfjs equivalent (RoIAlign sampling, GroupNorm): on wasm and cpu alike.
  for (const name of ['wasm', 'cpu']) for (const config of [...weightedGatherKernels(name), ...groupNormKernels(name)]) if (!tf.getKernel(config.kernelName, name)) tf.registerKernel(config);
}

async function tryNative(): Promise<BackendInfo | null> {
  // Optional accelerators: used when the user has installed them, never required.
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return { name: 'tensorflow', description: `${pkg.replace('@tensorflow/', '')}${pkg.endsWith('gpu') ? ' (CUDA)' : ''}` };
    } catch {
      // not installed
    }
  }
  return null;
}

/** onnxruntime threads per training process when `workers` processes share this machine's cores. */
export function threadsPerWorker(workers: number): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers)));
}

/**
 * Select the training backend: 'auto' takes tfjs-node-gpu, then tfjs-node when installed, else wasm.
 * wasm gets emseg's gradient kernels (missing or slow upstream) and, where onnxruntime-node loads, its
 * convolutions on onnxruntime with `options.threads` threads (default 1). Throws a typed error when an
 * explicitly requested backend cannot start.
 */
export async function selectBackend(choice: BackendChoice = 'auto', options: { threads?: number } = {}): Promise<BackendInfo> {
  registerEmsegKernels();
  const threads = options.threads ?? 1;
  setOnnxruntimeConvThreads(threads);
  if (choice === 'auto' || choice === 'tensorflow') {
    const native = await tryNative();
    if (native) return native;
    if (choice === 'tensorflow') {
      throw new EmsegError('EMSEG_INVALID_ARGUMENT', 'backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed (npm install @tensorflow/tfjs-node-gpu)');
    }
  }
  if (choice === 'cpu') {
    await tf.setBackend('cpu');
    return { name: 'cpu', description: 'cpu (pure JavaScript, slow; for checks)' };
  }
  const require = createRequire(import.meta.url);
  setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  if (!(await tf.setBackend('wasm'))) throw new EmsegError('EMSEG_INVALID_ARGUMENT', 'the wasm backend failed to start');
  await tf.ready();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const convs = onnxruntimeConvs ? `; convolutions on onnxruntime-node ${syncRuntimeVersion()} (MLAS, ${threads} thread${threads > 1 ? 's' : ''})` : '';
  return { name: 'wasm', description: `wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread per process${convs})` };
}
