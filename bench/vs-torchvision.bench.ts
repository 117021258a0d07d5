/**
 * Benchmark: emseg against torchvision at EQUAL architecture, in the same run.
 *   npm run bench -- vs-torchvision
 *
 * Both sides build a detector with a ResNet-18 FPN backbone (widths 64-512, FPN 256, 1000 RPN
 * proposals at test time, a 2 x 1024 box head, for Mask R-CNN a 4 x 256 mask head with 28^2 masks,
 * at most 100 detections) with random weights, and run it on the same 1024^2 image with 2 threads:
 * emseg as the Node SDK runs a model (`Detector`: normalisation, the exported ONNX graph in
 * onnxruntime-node with its in-graph NMS, masks pasted, measured and RLE-encoded), torchvision as
 * a user runs it (`model([img])`: its transform, the network, NMS and `paste_masks_in_image`).
 * Also the rotated detector (Faster R-CNN with rotated boxes) against torchvision's Faster R-CNN
 * (axis-aligned: the closest it has), the int8 export (emseg-export --int8) of the emseg models, and
 * one Mask R-CNN training step at 512^2 (one image, 20 boxes with masks, loss + gradients + SGD
 * update): emseg on tfjs wasm with its kernels and onnxruntime convolutions, torchvision on PyTorch.
 * Differences that remain: emseg's backbone uses group norm (torchvision frozen batch norm, a
 * cheaper affine op), a grey input (torchvision RGB) and P2-P5 for the RPN (torchvision adds a
 * max-pooled P6, < 0.1 % of the multiply-adds).
 *
 * torchvision runs through Debian's /usr/bin/python3 (python3-torch, python3-torchvision,
 * libopenblas0-pthread); when they are not installed the benchmark says so and reports emseg alone.
 * Achieved GFLOP/s = 2 x the multiply-adds of convolutions and linear layers (bench/detector-macs.ts,
 * one count for both) / median seconds, against this machine's fp32 matmul peak (2048^3, the best of
 * onnxruntime's and torch's OpenBLAS).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonReferenceMissing, runPythonReference } from './python-reference.ts';
import * as ort from 'onnxruntime-node';
import type * as tf from '@tensorflow/tfjs';
import { saveCheckpoint } from '../model/checkpoint.ts';
import { type RotatedRcnnConfig, defaultRotatedRcnnConfig } from '../model/detection/config.ts';
import { type MaskRcnnConfig, defaultMaskRcnnConfig } from '../model/detection/mask-config.ts';
import { modelSpecs } from '../model/detection/model-specs.ts';
import { paramsOf } from '../model/net/spec.ts';
import { encodeModel, makeGraph, makeModel, makeNode, tensorValueInfo } from '../onnx/index.ts';
import { encodeTiff } from '../core/formats/tiff-write.ts';
import { generateSynthImage } from '../sdk-node/synth.ts';
import { detectorMacs } from './detector-macs.ts';

const SIZE = 1024;
const RUNS = 5;
const THREADS = 2;

/** torchvision's maskrcnn / fasterrcnn defaults at a ResNet-18 FPN, as emseg settings. */
function r18Settings<T extends MaskRcnnConfig | RotatedRcnnConfig>(c: T): T {
  return {
    ...c,
    backbone: { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2], norm: 'gn' },
    fpnChannels: 256,
    anchorSizes: [32, 64, 128, 256],
    anchorRatios: [0.5, 1, 2],
    rpn: { ...c.rpn, preNmsTopKTest: 1000, postNmsTopKTest: 1000, nmsThreshold: 0.7 },
    roi: { ...c.roi, poolSize: 7, samplingRatio: 2, fcDim: 1024 },
    test: { scoreThreshold: 0.05, nmsThreshold: 0.5, detectionsPerImage: 100 },
  };
}

export function r18MaskRcnnConfig(): MaskRcnnConfig {
  return { ...r18Settings(defaultMaskRcnnConfig(['object'])), mask: { poolSize: 14, numConvs: 4, convDim: 256, resolution: 28 } };
}

export function r18RotatedConfig(): RotatedRcnnConfig {
  return r18Settings(defaultRotatedRcnnConfig(['object']));
}

/** A random-weight checkpoint of `config` exported to ONNX (fp32), made once under `dir`. */
async function ensureModel(dir: string, name: string, config: MaskRcnnConfig | RotatedRcnnConfig): Promise<string> {
  const file = join(dir, `${name}.onnx`);
  if (existsSync(file)) return file;
  const { MaskRcnn } = await import('../training/detection/mask-rcnn.ts');
  const { RotatedRcnn } = await import('../training/detection/rotated-rcnn.ts');
  const { exportDetector } = await import('../export/detector.ts');
  const params: Map<string, tf.Variable> = config.task === 'instance-segmentation' ? MaskRcnn.create(config, 0).params : RotatedRcnn.create(config, 0).params;
  const specs = modelSpecs(config).flatMap((s) => paramsOf(s));
  const flat = new Float32Array(specs.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
  let offset = 0;
  for (const p of specs) {
    const v = params.get(p.name)!;
    flat.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
    v.dispose();
  }
  const ck = join(dir, `${name}-checkpoint`);
  await saveCheckpoint(ck, { format: 'emseg-checkpoint-1', task: config.task, step: 0, paramCount: flat.length, config, params: specs.map((p) => ({ name: p.name, shape: p.shape })) }, flat);
  await exportDetector(ck, file, {});
  return file;
}

/** The benchmark image: a synthetic 1024^2 TEM micrograph, as float32 in [0, 1] (both sides read it). */
function benchImage(dir: string): { data: Float32Array; file: string } {
  const raw = generateSynthImage({ kind: 'tem-vesicles', seed: 5, size: SIZE }, 0).data;
  const data = Float32Array.from(raw, (v) => v / 65535);
  const file = join(dir, `image-${SIZE}.f32`);
  writeFileSync(file, new Uint8Array(data.buffer));
  // The same image as a file for int8 calibration (emseg-export --calibrate reads image files).
  writeFileSync(join(dir, `image-${SIZE}.tif`), encodeTiff({ width: SIZE, height: SIZE, dtype: 'uint16', data: raw, pixelSize: null }));
  return { data, file };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** onnxruntime-node's fp32 MatMul 2048^3, best of 5: GFLOP/s. */
async function ortMatmulPeak(): Promise<number> {
  const n = 2048;
  const graph = makeGraph({
    name: 'matmul',
    nodes: [makeNode('MatMul', ['a', 'b'], ['c'])],
    inputs: [tensorValueInfo('a', 'float32', [n, n]), tensorValueInfo('b', 'float32', [n, n])],
    outputs: [tensorValueInfo('c', 'float32', [n, n])],
  });
  const session = await ort.InferenceSession.create(encodeModel(makeModel({ graph, opsetImports: [{ domain: '', version: 17 }] })), { intraOpNumThreads: THREADS, interOpNumThreads: 1 });
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n]);
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    await session.run({ a, b: a });
    if (i > 0) best = Math.min(best, performance.now() - t);
  }
  await session.release();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/** The Node SDK on `model`: median seconds end to end and of the ONNX Runtime run alone. */
async function emsegRun(model: string, image: Float32Array): Promise<{ seconds: number; inferenceSeconds: number; detections: number }> {
  const { Detector } = await import('../sdk-node/detector.ts');
  const det = new Detector(model, { threads: THREADS, tile: false, scoreThreshold: 0.05, log: () => {} });
  const input = { format: 'array' as const, dtype: 'float32' as const, metadata: {}, width: SIZE, height: SIZE, data: image, pixelSize: null };
  await det.runDecoded(input);
  const total: number[] = [];
  const inference: number[] = [];
  let detections = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const { result, timing } = await det.runDecodedTimed(input);
    total.push((performance.now() - t) / 1000);
    inference.push(timing.inference / 1000);
    detections = result.instances.length;
  }
  await det.dispose();
  return { seconds: median(total), inferenceSeconds: median(inference), detections };
}

/**
 * Milliseconds onnxruntime spends in the image-scale convolutions (backbone, FPN, RPN: the top-level
 * Conv / FusedConv / QLinearConv kernels; the RoI heads run inside the per-image Loop), from its
 * profiler, median over 3 runs.
 */
async function imageScaleConvMs(model: string, image: Float32Array, dir: string): Promise<number> {
  const prefix = join(dir, `profile-${process.pid}`);
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: THREADS, interOpNumThreads: 1, enableProfiling: true, profileFilePrefix: prefix });
  // The model contract's normalisation is the SDK's; for timing, the raw [0, 1] image does.
  const feeds = { image: new ort.Tensor('float32', image, [1, 1, SIZE, SIZE]), image_size: new ort.Tensor('int64', BigInt64Array.from([BigInt(SIZE), BigInt(SIZE)]), [1, 2]) };
  for (let i = 0; i < 4; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).filter((n) => n.startsWith(`profile-${process.pid}`)).map((n) => join(dir, n)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  rmSync(file);
  // A run's kernel events come before its model_run event: sums[k] collects run k's.
  let run = 0;
  const sums = [0];
  for (const e of events) {
    if (e.name === 'model_run') sums[++run] = 0;
    else if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && !e.name.startsWith('img_') && /^(Conv|FusedConv|QLinearConv)$/.test(e.args?.op_name ?? '')) sums[run] += e.dur / 1000;
  }
  return median(sums.slice(1, 4)); // the first run is a warm-up
}

function torchvisionAvailable(): string | null {
  return pythonReferenceMissing(['torch', 'torchvision'], 'python3-torch python3-torchvision libopenblas0-pthread');
}

function torchvisionRun(task: 'maskrcnn' | 'fasterrcnn', image: string): { medianSeconds: number; detections: number; matmulGflops: number } {
  return runPythonReference('torchvision-reference.py', ['--task', task, '--image', image, '--size', String(SIZE), '--runs', String(RUNS), '--threads', String(THREADS)]);
}

const STEP_SIZE = 512;

/** emseg's Mask R-CNN R18-FPN training step at 512^2 (child process: its own tfjs backend): median ms. */
async function emsegTrainStep(runs: number): Promise<number> {
  const tf = await import('@tensorflow/tfjs');
  const { selectBackend } = await import('../training/backend/select-backend.ts');
  const { MaskRcnn } = await import('../training/detection/mask-rcnn.ts');
  const { seededRandom } = await import('../core/random.ts');
  await selectBackend('wasm', { threads: THREADS });
  const rand = seededRandom(0);
  const image = Float32Array.from({ length: STEP_SIZE * STEP_SIZE }, () => rand());
  const boxes = new Float32Array(80);
  const masks: { x0: number; y0: number; w: number; h: number; data: Uint8Array }[] = [];
  for (let i = 0; i < 20; i++) {
    const [x, y] = [rand() * (STEP_SIZE - 80), rand() * (STEP_SIZE - 80)];
    const [w, h] = [16 + rand() * 60, 16 + rand() * 60];
    boxes.set([x, y, x + w, y + h], 4 * i);
    const [x0, y0, cw, ch] = [Math.round(x), Math.round(y), Math.round(w), Math.round(h)];
    masks.push({ x0, y0, w: cw, h: ch, data: new Uint8Array(cw * ch).fill(1) });
  }
  const model = MaskRcnn.create(r18MaskRcnnConfig(), 0);
  const vars = [...model.params.values()];
  const optimizer = tf.train.momentum(0.001, 0.9);
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.addN(Object.values(model.losses(tf.tensor4d(image, [1, STEP_SIZE, STEP_SIZE, 1]), { boxes, classes: new Int32Array(20), masks }, i))) as tf.Scalar, vars);
    optimizer.applyGradients(grads as Record<string, tf.Variable>);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    if (i > 0) times.push(performance.now() - t); // the first step is a warm-up
  }
  return median(times);
}

export async function benchVsTorchvision(outDir: string): Promise<Record<string, number | string>> {
  const dir = join(outDir, 'vs-torchvision');
  mkdirSync(dir, { recursive: true });
  const image = benchImage(dir);
  const row: Record<string, number | string> = { bench: 'vs-torchvision', size: SIZE, threads: THREADS };
  const missing = torchvisionAvailable();
  if (missing) row.torchvision = `skipped: ${missing}`;
  const peaks = [await ortMatmulPeak()];
  const pairs = [
    { name: 'maskrcnn', config: r18MaskRcnnConfig(), torch: 'maskrcnn' as const },
    { name: 'rotated', config: r18RotatedConfig(), torch: 'fasterrcnn' as const },
  ];
  for (const p of pairs) {
    const model = await ensureModel(dir, `${p.name}-r18fpn`, p.config);
    const variants: [string, string][] = [['fp32', model]];
    const int8 = join(dir, `${p.name}-r18fpn-int8.onnx`);
    if (await ensureInt8(model, int8, dir)) variants.push(['int8', int8]);
    const macs = (detections: number) => detectorMacs(p.config, SIZE, SIZE, p.config.rpn.postNmsTopKTest, detections).total;
    for (const [variant, file] of variants) {
      const e = await emsegRun(file, image.data);
      row[`${p.name}.emseg.${variant}.seconds`] = +e.seconds.toFixed(3);
      row[`${p.name}.emseg.${variant}.inferenceSeconds`] = +e.inferenceSeconds.toFixed(3);
      row[`${p.name}.emseg.${variant}.detections`] = e.detections;
      row[`${p.name}.emseg.${variant}.gflops`] = +((2 * macs(e.detections)) / e.seconds / 1e9).toFixed(1);
    }
    row[`${p.name}.gmacs`] = +(macs(100) / 1e9).toFixed(1);
    // The image-scale convolutions alone (backbone, FPN, RPN) against the matmul peak.
    const m = detectorMacs(p.config, SIZE, SIZE, 0, 0);
    for (const [variant, file] of variants) {
      const ms = await imageScaleConvMs(file, image.data, dir);
      row[`${p.name}.emseg.${variant}.imageConvMs`] = Math.round(ms);
      row[`${p.name}.emseg.${variant}.imageConv.gflops`] = +((2 * (m.backbone + m.fpn + m.rpn)) / (ms / 1000) / 1e9).toFixed(1);
    }
    if (!missing) {
      const t = torchvisionRun(p.torch, image.file);
      peaks.push(t.matmulGflops);
      row[`${p.name}.torchvision.seconds`] = +t.medianSeconds.toFixed(3);
      row[`${p.name}.torchvision.detections`] = t.detections;
      row[`${p.name}.torchvision.gflops`] = +((2 * macs(t.detections)) / t.medianSeconds / 1e9).toFixed(1);
      for (const [variant] of variants) row[`${p.name}.speedup.${variant}`] = +(t.medianSeconds / (row[`${p.name}.emseg.${variant}.seconds`] as number)).toFixed(2);
    }
  }
  // Training step at 512^2 (emseg in a child process: its tfjs backend and kernels are its own).
  const child = execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--train-step'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const stepMs = Number(child.trim().split('\n').pop());
  row['trainStep512.emseg.ms'] = Math.round(stepMs);
  if (!missing) {
    const t = runPythonReference<{ medianSeconds: number }>('torchvision-reference.py', ['--task', 'maskrcnn', '--mode', 'train-step', '--size', String(STEP_SIZE), '--runs', '3', '--threads', String(THREADS)]);
    row['trainStep512.torchvision.ms'] = Math.round(t.medianSeconds * 1000);
    row['trainStep512.emsegOverTorchvision'] = +(stepMs / (t.medianSeconds * 1000)).toFixed(2);
  }
  const peak = Math.max(...peaks);
  row.matmulPeakGflops = +peak.toFixed(1);
  for (const k of Object.keys(row)) if (k.endsWith('.gflops')) row[k.replace(/gflops$/, 'ofPeak')] = +((row[k] as number) / peak).toFixed(2);
  return row;
}

/** The int8 file of `model` (emseg-export --int8), calibrated on the benchmark image. */
async function ensureInt8(model: string, out: string, dir: string): Promise<boolean> {
  if (existsSync(out)) return true;
  const { exportCommand } = await import('../export/command.ts');
  const { calibrateOn } = await import('../cli/calibrate-on.ts');
  const image = join(dir, `image-${SIZE}.tif`);
  return (await exportCommand([model, '--int8', '--calibrate', image, '-o', out], 'emseg-export', calibrateOn)) === 0;
}

if (process.argv[2] === '--train-step') console.log(await emsegTrainStep(3));
