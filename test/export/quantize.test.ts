import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ActivationRanges, uint8Params } from '../../core/quantization/activation-ranges.ts';
import { boxIoUXYXY } from '../../core/geometry/box-iou.ts';
import { calibrateOn } from '../../cli/calibrate-on.ts';
import { exportCommand } from '../../export/command.ts';
import { QUANTIZATION_KEY, applyInt8, planInt8, plannedConvolutions, quantizeModel } from '../../export/quantize.ts';
import { decodeModel, encodeModel, makeGraph, makeModel, makeNode, readTensor, tensorValueInfo, type ModelProto } from '../../onnx/index.ts';
import { calibrateActivations } from '../../sdk-node/calibrate.ts';
import { Detector } from '../../sdk-node/detector.ts';
import { readImage } from '../../sdk-node/read-image.ts';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { zooDir } from '../../sdk-node/zoo.ts';
import { RUNTIMES } from '../helpers/ort-runtimes.ts';
import { pythonOnnxAvailable, requireTool } from '../helpers/tools.ts';

/**
 * emseg-export --int8 on a real zoo model (the vesicle Mask R-CNN, float16 weights): what the QDQ
 * rewrite quantizes and keeps, that ONNX Runtime (Node and web WASM) and onnx.checker accept it, and
 * that its detections on an image calibration never saw match the float model's.
 */
const work = mkdtempSync(join(tmpdir(), 'emseg-int8-'));
after(() => rmSync(work, { recursive: true, force: true }));
const floatFile = join(zooDir(), 'vesicles', 'vesicles.onnx');
const int8File = join(work, 'vesicles-int8.onnx');
let float: ModelProto;
let int8: ModelProto;
let testImage: string;

before(async () => {
  await writeSynthDataset({ kind: 'tem-vesicles', count: 3, seed: 303, size: 512, out: work });
  const images = [0, 1, 2].map((i) => join(work, 'images', `tem-vesicles-${String(i).padStart(4, '0')}.tif`));
  testImage = images[2];
  float = decodeModel(new Uint8Array(readFileSync(floatFile)), floatFile);
  const q = await quantizeModel(float, async (bytes, source, observe) => ({ ranges: await calibrateActivations(bytes, source, observe, images.slice(0, 2)), images: 2 }), floatFile);
  int8 = q.model;
  writeFileSync(int8File, encodeModel(int8));
});

describe('activation ranges (percentile calibration)', () => {
  it('clips the rarest values and keeps zero exact', () => {
    const r = new ActivationRanges(99);
    const v = Float32Array.from({ length: 10000 }, (_, i) => i / 100); // 0 .. 99.99
    v[0] = -5;
    v[9999] = 1e6; // one outlier
    r.observe('x', v);
    const { lo, hi } = r.ranges().get('x')!;
    assert.ok(hi > 97 && hi < 100, `hi ${hi}: the 99th percentile, not the outlier`);
    assert.ok(lo <= -4.99 && lo >= -5.01, `lo ${lo}: the only negative value`);
    const p = uint8Params({ lo: -1, hi: 3 });
    assert.equal(p.zeroPoint, 64);
    assert.ok(Math.abs(p.scale * (64 - p.zeroPoint)) === 0);
    assert.deepEqual(uint8Params({ lo: 0, hi: 0 }), { scale: 1, zeroPoint: 0 });
  });

  it('averages each run\'s percentile over runs', () => {
    const r = new ActivationRanges(100);
    r.observe('y', Float32Array.of(0, 1, 2));
    r.observe('y', Float32Array.of(0, 3, 4));
    assert.ok(Math.abs(r.ranges().get('y')!.hi - 3) < 0.01);
  });
});

describe('emseg-export --int8 (QDQ)', () => {
  it('quantizes the backbone, FPN, RPN and mask-head convolutions and keeps the stem, predictors and fully connected layers in float', () => {
    const main = int8.graph!.node!;
    const body = main.find((n) => n.opType === 'Loop')!.attribute!.find((a) => a.name === 'body')!.g!.node!;
    const isQuantized = (n: (typeof main)[number]) => n.input!.every((x) => x.endsWith('.dq'));
    const convs = [...main, ...body].filter((n) => n.opType === 'Conv');
    const quantized = convs.filter(isQuantized);
    assert.equal(quantized.length, plannedConvolutions(planInt8(float)));
    assert.ok(main.filter((n) => n.opType === 'Conv' && isQuantized(n)).length >= 28, 'backbone, FPN, RPN');
    assert.deepEqual(body.filter((n) => n.opType === 'Conv' && isQuantized(n)).map((n) => n.input![1].replace(/\.loop\d+\.dq$/, '')), [1, 2, 3, 4].map((k) => `roi_heads.mask_fcn${k}.weight`));
    const floatConvs = convs.filter((n) => !quantized.includes(n)).map((n) => n.input![1]);
    assert.ok(floatConvs.includes('backbone.stem.conv.weight'));
    assert.ok(floatConvs.some((w) => w.includes('objectness')) && floatConvs.some((w) => w.includes('deltas')));
    assert.ok(floatConvs.includes('roi_heads.mask_predictor.weight'));
    // The box head's fully connected layers are float Gemms (the zoo's files have them as the exporter
    // writes them: scripts/zoo-fc-gemm.ts).
    assert.deepEqual(body.filter((n) => n.opType === 'Gemm').map((n) => n.input![1]), ['roi_heads.fc1.weight', 'roi_heads.fc2.weight']);
    // One Q/DQ pair per observed tensor; every quantized convolution reads dequantized int8.
    assert.equal(main.filter((n) => n.opType === 'QuantizeLinear').length + body.filter((n) => n.opType === 'QuantizeLinear').length, planInt8(float).observe.length);
    // Quantized weights are int8 with one scale per output channel; no float copy of them is left.
    const inits = new Map(int8.graph!.initializer!.map((t) => [t.name, t]));
    const w = readTensor(inits.get('backbone.res3.0.conv1.weight.q')!);
    assert.equal(w.type, 'int8');
    assert.equal(readTensor(inits.get('backbone.res3.0.conv1.weight.w_scale')!).values.length, w.dims[0]);
    assert.ok(Math.max(...w.values.map(Math.abs)) === 127, 'symmetric: the largest weight of some channel is 127');
    assert.ok(!inits.has('backbone.res3.0.conv1.weight') && !inits.has('backbone.res3.0.conv1.weight.fp16'));
    // Layers left in float keep their float16 storage.
    assert.ok(inits.has('roi_heads.fc1.weight.fp16'));
    const note = JSON.parse(int8.metadataProps!.find((p) => p.key === QUANTIZATION_KEY)!.value!);
    assert.equal(note.calibration.images, 2);
    assert.ok(readFileSync(int8File).length < 0.75 * readFileSync(floatFile).length, 'smaller than the float16 file');
  });

  it('refuses to quantize twice and names missing ranges', () => {
    assert.throws(() => planInt8(int8, 'q.onnx'), (e: Error & { code?: string }) => e.code === 'EMSEG_INVALID_ARGUMENT' && /quantized already/.test(e.message));
    const plan = planInt8(float, 'v.onnx');
    assert.throws(() => applyInt8(plan, new Map(), { calibration: { images: 0 } }, 'v.onnx'), /calibration gave no range/);
  });

  it('detects what the float model detects on an image calibration never saw', async () => {
    const run = async (file: string) => {
      const det = new Detector(file, { threads: 2, log: () => {} });
      const r = await det.run(testImage);
      await det.dispose();
      return r.instances;
    };
    const [a, b] = [await run(floatFile), await run(int8File)];
    assert.ok(a.length > 50, `${a.length} float detections`);
    assert.ok(Math.abs(b.length - a.length) <= 0.1 * a.length, `int8 ${b.length} vs float ${a.length} detections`);
    let matched = 0;
    for (const x of a) if (b.some((y) => y.label === x.label && boxIoUXYXY(x.box, y.box) >= 0.8)) matched++;
    assert.ok(matched >= 0.9 * a.length, `${matched} of ${a.length} float detections matched (same class, box IoU >= 0.8)`);
  });

  for (const rt of RUNTIMES) {
    it(`runs in ${rt.name} and finds the float model's confident objects (+- 10 %)`, async () => {
      const image = await readImage(testImage);
      const px = Float32Array.from(image.data);
      let [min, max] = [Infinity, -Infinity];
      for (const v of px) [min, max] = [Math.min(min, v), Math.max(max, v)];
      const feeds = {
        image: new rt.ort.Tensor('float32', px.map((v) => (v - min) / (max - min)), [1, 1, image.height, image.width]),
        image_size: new rt.ort.Tensor('int64', BigInt64Array.from([BigInt(image.height), BigInt(image.width)]), [1, 2]),
      };
      const confident = async (file: string) => {
        const s = await rt.ort.InferenceSession.create(new Uint8Array(readFileSync(file)), { executionProviders: [rt.ep] });
        const out = await s.run(feeds);
        await s.release();
        return [...(out.scores.data as Float32Array)].filter((v) => v > 0.5).length;
      };
      const [a, b] = [await confident(floatFile), await confident(int8File)];
      assert.ok(a > 50, `${a} float detections`);
      assert.ok(Math.abs(a - b) <= 0.1 * a, `int8 ${b} vs float ${a} detections with score > 0.5`);
    });
  }

  it('emseg-export refuses --int8 without --calibrate, with --fp16, and --calibrate alone (usage, exit 2)', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      assert.equal(await exportCommand([floatFile, '--int8', '-o', join(work, 'x.onnx')]), 2);
      assert.equal(await exportCommand([floatFile, '--int8', '--fp16', '--calibrate', testImage, '-o', join(work, 'x.onnx')]), 2);
      assert.equal(await exportCommand([floatFile, '--calibrate', testImage, '-o', join(work, 'x.onnx')]), 2);
    } finally {
      process.stderr.write = write;
    }
    assert.match(errors.join(''), /--int8 needs --calibrate/);
    assert.match(errors.join(''), /--int8 and --fp16 exclude each other/);
    assert.match(errors.join(''), /--calibrate is for --int8/);
  });

  it('names the file and the problem: a missing calibration image, a model that is no emseg detector', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
    const missing = join(work, 'missing.tif');
    try {
      assert.equal(await exportCommand([floatFile, '--int8', '--calibrate', missing, '-o', join(work, 'y.onnx')], 'emseg-export', calibrateOn), 1);
    } finally {
      process.stderr.write = write;
    }
    assert.match(errors.join(''), new RegExp(`error EMSEG_FILE_READ: ${missing}`));
    const matmul = makeModel({ graph: makeGraph({ name: 'mm', nodes: [makeNode('MatMul', ['a', 'a'], ['b'])], inputs: [tensorValueInfo('a', 'float32', [2, 2])], outputs: [tensorValueInfo('b', 'float32', [2, 2])] }) });
    assert.throws(() => planInt8(matmul, 'mm.onnx'), (e: Error & { code?: string; file?: string }) => e.code === 'EMSEG_INVALID_ARGUMENT' && e.file === 'mm.onnx' && /no convolution/.test(e.message));
  });

  it('passes onnx.checker (full_check)', (t) => {
    if (!requireTool(t, pythonOnnxAvailable(), 'python3-onnx (apt-get install python3-onnx)')) return;
    const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, onnx\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint("ok")', int8File], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
