/**
 * `npm run bench:train`: ms per SGD step of a ResNet-18-style backbone (widths 32-64-128-256, BatchNorm
 * in training mode (fused; batch 1),
 * grayscale 512 x 512, batch 1) on the selected tfjs backend with emseg's gradient kernels. PyTorch's
 * step of the same network is measured in the same `bench:train` run (bench/torch-backbone-step.py);
 * tfjs wasm with a naive filter-gradient kernel took 2068 ms (../shared/NOTES-environment.md).
 * Run as a worker too (`--worker`), so the data-parallel measurement uses the same code.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendChoice, selectBackend } from '../training/backend/select-backend.ts';
import { groupNorm } from '../training/backend/group-norm.ts';

type Params = Map<string, tf.Variable>;

function convParam(p: Params, name: string, k: number, ci: number, co: number, seed: number): tf.Variable {
  let v = p.get(name);
  if (!v) {
    v = tf.variable(tf.randomNormal([k, k, ci, co], 0, Math.sqrt(2 / (k * k * ci)), 'float32', seed), true, name);
    p.set(name, v);
  }
  return v;
}

function bn(p: Params, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const c = x.shape[3];
  if (!p.has(`${name}.gamma`)) {
    p.set(`${name}.gamma`, tf.variable(tf.ones([c]), true, `${name}.gamma`));
    p.set(`${name}.beta`, tf.variable(tf.zeros([c]), true, `${name}.beta`));
  }
  // Training-mode BatchNorm of a batch of ONE image normalises each channel over H x W: that is
  // GroupNorm with one channel per group, which emseg's fused kernel computes (value and gradient)
  // in two passes each, as PyTorch's fused BatchNorm does; the primitives below made ~10 passes
  // (Sum, Mean, Multiply, Add were a quarter of the step).
  if (x.shape[0] === 1) return groupNorm(x, c, p.get(`${name}.gamma`)!, p.get(`${name}.beta`)!, 1e-5);
  // Larger batches: written with broadcasting primitives (tf.batchNorm's gradient tiles mean and
  // variance to the full activation shape; Tile was 17 % of a step here).
  const mean = tf.mean(x, [0, 1, 2], true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), [0, 1, 2], true);
  const scale = tf.mul(tf.rsqrt(tf.add(variance, 1e-5)), p.get(`${name}.gamma`)!);
  return tf.add(tf.mul(centred, scale), p.get(`${name}.beta`)!) as tf.Tensor4D;
}

let seed = 1;
function conv(p: Params, name: string, x: tf.Tensor4D, co: number, k: number, stride: number): tf.Tensor4D {
  const w = convParam(p, name, k, x.shape[3], co, seed++);
  const pad = (k - 1) / 2;
  return tf.conv2d(x, w as tf.Tensor4D, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
}

function basicBlock(p: Params, name: string, x: tf.Tensor4D, co: number, stride: number): tf.Tensor4D {
  let y = tf.relu(bn(p, `${name}.bn1`, conv(p, `${name}.conv1`, x, co, 3, stride)));
  y = bn(p, `${name}.bn2`, conv(p, `${name}.conv2`, y, co, 3, 1));
  const shortcut = stride !== 1 || x.shape[3] !== co ? bn(p, `${name}.down.bn`, conv(p, `${name}.down`, x, co, 1, stride)) : x;
  return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
}

export function resnet18Half(p: Params, x: tf.Tensor4D): tf.Tensor4D {
  if (p.size === 0) seed = 1; // the same initial weights for every new parameter set
  let y: tf.Tensor4D = tf.relu(bn(p, 'stem.bn', conv(p, 'stem', x, 32, 7, 2)));
  y = tf.maxPool(y, 3, 2, 'same');
  const widths = [32, 64, 128, 256];
  widths.forEach((w, s) => {
    y = basicBlock(p, `stage${s + 1}.block0`, y, w, s === 0 ? 1 : 2);
    y = basicBlock(p, `stage${s + 1}.block1`, y, w, 1);
  });
  return y;
}

/** `threads`: onnxruntime threads for the convolutions (2 = both cores of this machine in one step). */
export async function benchTrainStep(backend: BackendChoice = 'wasm', steps = 5, threads = 1): Promise<Record<string, number | string>> {
  const info = await selectBackend(backend, { threads });
  const params: Params = new Map();
  const x = tf.randomNormal([1, 512, 512, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const opt = tf.train.sgd(1e-3);
  const loss = () => tf.tidy(() => resnet18Half(params, x).square().mean()) as tf.Scalar;
  loss().dispose(); // create variables
  const fwd: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    loss().dataSync();
    fwd.push(performance.now() - t);
  }
  const times: number[] = [];
  let faults = 0;
  for (let i = 0; i < steps + 1; i++) {
    const f = process.resourceUsage().minorPageFault;
    const t = performance.now();
    const l = opt.minimize(loss, true);
    l?.dataSync();
    l?.dispose();
    if (i > 0) {
      times.push(performance.now() - t); // first step warms up
      faults += process.resourceUsage().minorPageFault - f;
    }
  }
  times.sort((a, b) => a - b);
  tf.dispose([x, ...params.values()]); // variables are registered by name: free them for the next call
  opt.dispose();
  return {
    bench: 'train step, ResNet-18-style 32-64-128-256, 512^2 x1, batch 1, SGD',
    backend: info.description,
    forward_ms: Math.round(Math.min(...fwd)),
    step_ms_median: Math.round(times[Math.floor(times.length / 2)]),
    step_ms_min: Math.round(times[0]),
    // Pages faulted in per step: on this VM the host pages out memory the process has not touched for
    // a while (DAMON), and faulting it back in is most of the spread between steps.
    minor_faults_per_step: Math.round(faults / steps),
  };
}
