// `npm run bench:train`: training speed on the wasm backend with emseg's kernels (convolutions on
// onnxruntime unless EMSEG_CONV_KERNELS=wasm): per-layer
// convolution timings, the rotated detector's step, and the ResNet-18-style benchmark backbone on one
// core and data-parallel on both (one replica per worker thread, gradients averaged every step), the
// backbone beside PyTorch's step of the same network where Debian's python3-torch is installed.
import { selectBackend, threadsPerWorker } from '../training/backend/select-backend.ts';
import { DataParallel } from '../training/parallel/data-parallel.ts';
import { benchConvLayers } from './conv-layers.bench.ts';
import { pythonReferenceMissing, runPythonReference } from './python-reference.ts';
import { benchDetectorStep } from './detector-step.bench.ts';
import { benchTrainStep } from './train-step.bench.ts';

await selectBackend('wasm');
for (const row of benchConvLayers()) console.log(JSON.stringify(row));
console.log(JSON.stringify(benchDetectorStep()));
// One image per step: on one core, then on all of them (convolutions threaded by onnxruntime).
const torchMissing = pythonReferenceMissing(['torch'], 'python3-torch libopenblas0-pthread');
for (const threads of [1, threadsPerWorker(1)]) {
  const emseg = await benchTrainStep('wasm', 21, threads);
  console.log(JSON.stringify(emseg));
  // PyTorch on the same backbone in the same run (the step times move with this VM's memory state,
  // so a reference measured in another session is no yardstick): a reference, never a dependency.
  if (torchMissing) {
    console.log(JSON.stringify({ bench: 'the same backbone step in PyTorch', skipped: torchMissing }));
  } else {
    const torch = runPythonReference<{ step_ms_median: number }>('torch-backbone-step.py', ['--threads', String(threads)]);
    console.log(JSON.stringify({ bench: 'the same backbone step in PyTorch (Debian python3-torch)', ...torch, emseg_over_pytorch: +((emseg.step_ms_median as number) / torch.step_ms_median).toFixed(2) }));
  }
}
for (const workers of [1, 2]) {
  // As `emseg train`: the cores divided among the workers for onnxruntime's convolutions.
  const threads = threadsPerWorker(workers);
  const dp = await DataParallel.start(new URL('./train-step-replica.ts', import.meta.url).href, { backend: 'wasm', lr: 1e-3, threads }, workers);
  await dp.step(Array.from({ length: workers }, (_, i) => i)); // warm-up
  const steps = 5;
  const t = performance.now();
  for (let s = 0; s < steps; s++) await dp.step(Array.from({ length: workers }, (_, i) => 100 + s * workers + i));
  const ms = (performance.now() - t) / steps;
  console.log(JSON.stringify({ bench: 'data-parallel train step (same backbone, batch 1 per worker)', workers, onnxruntime_threads: threads, ms_per_step: Math.round(ms), ms_per_image: Math.round(ms / workers), images_per_s: +((1000 * workers) / ms).toFixed(2), params: dp.paramCount }));
  await dp.close();
}
