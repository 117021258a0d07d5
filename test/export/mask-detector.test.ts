import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import { EmsegError } from '../../core/errors.ts';
import type { BoxXYXY } from '../../core/geometry/types.ts';
import { cocoSegmentationToRle } from '../../core/mask/coco-segmentation.ts';
import { pasteMask } from '../../core/mask/paste-mask.ts';
import { rleArea, rleIoU } from '../../core/mask/rle.ts';
import { batchedNms, nms } from '../../core/nms/nms.ts';
import { normalizeImage } from '../../core/preprocess/normalize.ts';
import { seededRandom } from '../../core/random.ts';
import { generateTemVesicles } from '../../core/synth/tem-vesicles.ts';
import { readDetectorCheckpoint } from '../../export/detection/checkpoint.ts';
import { MASK_DETECTOR_OUTPUTS, exportDetector } from '../../export/detector.ts';
import { OpBuilder, decodeModel, encodeModel, makeGraph, makeModel, tensorValueInfo } from '../../onnx/index.ts';
import { boxNmsFunction, boxNmsNode } from '../../export/ops/box-nms.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { saveCheckpoint } from '../../model/checkpoint.ts';
import type { MaskRcnnConfig } from '../../model/detection/mask-config.ts';
import { MaskRcnn } from '../../training/detection/mask-rcnn.ts';
import { paramsOf } from '../../model/net/spec.ts';
import { type Instance, loadTrainedModel, predictNormalized } from '../../training/predict.ts';
import { RUNTIMES } from '../helpers/ort-runtimes.ts';
import { writeSmallMaskCheckpoint } from '../helpers/small-detectors.ts';
import { pythonOnnxAvailable, requireTool } from '../helpers/tools.ts';

/**
 * The exported Mask R-CNN against the tfjs reference (training/predict.ts): a small seeded model
 * (heads scaled so that it detects many objects of every class with masks that are not flat), a
 * synthetic TEM image, onnxruntime-node (CPU) and onnxruntime-web (wasm). Also com.emseg::BoxNMS
 * against core/nms `nms` on random and adversarial cases.
 */

const SIZE = 256;
const CLASSES = ['large_vesicle', 'small_vesicle', 'hole'];
const M = 28;

function testImage(seed: number): Float32Array {
  return normalizeImage(generateTemVesicles(seededRandom(seed), { size: SIZE })).data;
}


interface MaskOut {
  box: BoxXYXY;
  score: number;
  label: number;
  probs: Float32Array;
}

async function runMaskDetector(rt: (typeof RUNTIMES)[number], bytes: Uint8Array, image: Float32Array, valid: [number, number], dims: [number, number] = [SIZE, SIZE]): Promise<MaskOut[]> {
  const session = await rt.ort.InferenceSession.create(bytes, { executionProviders: [rt.ep] });
  try {
    const out = await session.run({
      image: new rt.ort.Tensor('float32', image, [1, 1, ...dims]),
      image_size: new rt.ort.Tensor('int64', BigInt64Array.from(valid, BigInt), [1, 2]),
    });
    assert.deepEqual(Object.keys(out).sort(), [...MASK_DETECTOR_OUTPUTS].sort());
    const K = out.scores.dims[1];
    assert.deepEqual(out.masks.dims, [1, K, M, M]);
    const n = Number((out.count.data as BigInt64Array)[0]);
    const boxes = out.boxes.data as Float32Array;
    const masks = out.masks.data as Float32Array;
    // Zero padding after `count`.
    assert.ok(masks.subarray(n * M * M).every((v) => v === 0), 'masks after count are zero');
    assert.ok(boxes.subarray(4 * n).every((v) => v === 0), 'boxes after count are zero');
    return Array.from({ length: n }, (_, j) => ({
      box: [boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2], boxes[4 * j + 3]] as BoxXYXY,
      score: (out.scores.data as Float32Array)[j],
      label: Number((out.labels.data as BigInt64Array)[j]),
      probs: masks.slice(j * M * M, (j + 1) * M * M),
    }));
  } finally {
    await session.release();
  }
}

/**
 * The same detections (count, labels, boxes and scores close, pasted masks nearly identical) in
 * score order. Scores differ between runtimes by ~1e-6, so two detections whose scores are closer
 * than that may swap places: each detection is matched to an unused reference detection of the same
 * class and box at a position where the scores agree.
 */
function compare(got: MaskOut[], want: Instance[], width: number, height: number, where: string): { box: number; score: number; minIoU: number; meanIoU: number } {
  assert.equal(got.length, want.length, `${where}: detection count`);
  let box = 0, score = 0, minIoU = 1, sumIoU = 0;
  const used = new Set<number>();
  const boxError = (g: MaskOut, w: Instance): number => Math.max(...g.box.map((v, k) => Math.abs(v - w.box[k])));
  got.forEach((g, j) => {
    let m = j;
    if (used.has(j) || CLASSES[g.label] !== want[j].label || boxError(g, want[j]) > 1e-3) {
      m = want.findIndex((w, i) => !used.has(i) && w.label === CLASSES[g.label] && boxError(g, w) <= 1e-3 && Math.abs(w.score - g.score) <= 1e-4);
      assert.ok(m >= 0, `${where}: detection ${j} (${CLASSES[g.label]}, score ${g.score}, box ${g.box.join(', ')}) not in the reference`);
    }
    used.add(m);
    const w = want[m];
    assert.equal(CLASSES[g.label], w.label, `${where}: label of detection ${j}`);
    for (let k = 0; k < 4; k++) box = Math.max(box, Math.abs(g.box[k] - w.box[k]));
    score = Math.max(score, Math.abs(g.score - w.score));
    assert.ok(w.mask, 'reference mask');
    const mine = pasteMask((u, v) => g.probs[v * M + u], M, g.box, width, height);
    const theirs = cocoSegmentationToRle(w.mask, height, width, 'reference');
    // Two empty masks agree (rleIoU gives 0 for them).
    const iou = rleArea(mine) === 0 && rleArea(theirs) === 0 ? 1 : rleIoU(mine, theirs);
    minIoU = Math.min(minIoU, iou);
    sumIoU += iou;
  });
  assert.ok(box <= 1e-3, `${where}: max box difference ${box}`);
  assert.ok(score <= 1e-4, `${where}: max score difference ${score}`);
  // A mask pixel flips only where the probability is within float32 noise of 0.5.
  assert.ok(minIoU >= 0.97, `${where}: worst mask IoU ${minIoU}`);
  return { box, score, minIoU, meanIoU: sumIoU / Math.max(got.length, 1) };
}

let work = '';
let smallDir = '';
let reference: MaskRcnn;
let onnx: Uint8Array;

before(async () => {
  await selectBackend('wasm');
  ortWeb.env.wasm.numThreads = 1;
  work = mkdtempSync(join(tmpdir(), 'emseg-mask-export-'));
  smallDir = join(work, 'small');
  await writeSmallMaskCheckpoint(smallDir, CLASSES);
  const loaded = await loadTrainedModel(smallDir, 'wasm');
  assert.ok(loaded instanceof MaskRcnn);
  reference = loaded;
  const r = await exportDetector(smallDir, join(work, 'small.onnx'), { licence: 'CC0-1.0' });
  assert.equal(r.parameters, reference.specs().flatMap((s) => paramsOf(s)).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
  onnx = new Uint8Array(readFileSync(join(work, 'small.onnx')));
});

after(() => {
  for (const v of reference?.params.values() ?? []) v.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('emseg-export: Mask R-CNN parity with the tfjs reference', () => {
  it('detections and masks equal predictNormalized in onnxruntime-node and -web', async () => {
    const image = testImage(11);
    const want = predictNormalized(reference, image, SIZE, SIZE);
    assert.ok(want.length >= 30, `the test model gives ${want.length} detections; it should give many`);
    assert.equal(new Set(want.map((d) => d.label)).size, 3, 'all three classes detected');
    for (const rt of RUNTIMES) {
      const got = await runMaskDetector(rt, onnx, image, [0, 0]);
      const worst = compare(got, want, SIZE, SIZE, rt.name);
      console.log(`${rt.name}: ${want.length} detections as tfjs; max |error| box ${worst.box.toExponential(2)}, score ${worst.score.toExponential(2)}; mask IoU min ${worst.minIoU.toFixed(4)}, mean ${worst.meanIoU.toFixed(4)}`);
    }
  });

  it('respects image_size: boxes clipped to the valid region, as the reference given that size', async () => {
    const image = testImage(12);
    // A 160 x 200 image padded at the bottom to 160 x 224 (the next multiple of 32, as the
    // reference pads: group norm sees the padding, so both must pad alike).
    const [h, w, H] = [200, 160, 224];
    const cropped = new Float32Array(w * h);
    for (let y = 0; y < h; y++) cropped.set(image.subarray(y * SIZE, y * SIZE + w), y * w);
    const padded = new Float32Array(w * H);
    padded.set(cropped);
    const want = predictNormalized(reference, cropped, w, h);
    assert.ok(want.length > 0);
    const got = await runMaskDetector(RUNTIMES[0], onnx, padded, [h, w], [H, w]);
    compare(got, want, w, h, 'valid region');
    assert.ok(got.every((d) => d.box[2] <= w && d.box[3] <= h));
  });

  it('writes the instance-segmentation metadata', () => {
    const model = decodeModel(onnx, 'small.onnx');
    const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key, p.value]));
    assert.equal(meta['emseg.task'], 'instance-segmentation');
    assert.deepEqual(JSON.parse(meta['emseg.classes'] ?? 'null'), CLASSES);
    assert.equal(meta['emseg.mask_resolution'], '28');
    assert.equal(meta['emseg.training_data_licence'], 'CC0-1.0');
    assert.deepEqual((model.functions ?? []).map((f) => `${f.domain}::${f.name}`), ['com.emseg::BoxNMS']);
  });

  it('passes the ONNX checker (Debian python3-onnx, full_check)', (t) => {
    const python = '/usr/bin/python3';
    if (!requireTool(t, pythonOnnxAvailable(), 'python3-onnx (apt-get install -y python3-onnx)')) return;
    const path = join(work, 'checked.onnx');
    writeFileSync(path, onnx);
    const r = spawnSync(python, ['-c', 'import sys, onnx\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint("ok")', path], { encoding: 'utf8' });
    assert.equal(r.status, 0, `onnx.checker failed:\n${r.stderr}`);
  });

  it('rejects a checkpoint whose mask resolution does not match its mask head', async () => {
    const ck = await readDetectorCheckpoint(smallDir);
    const manifest = JSON.parse(readFileSync(join(smallDir, 'manifest.json'), 'utf8')) as { config: MaskRcnnConfig };
    manifest.config.mask.resolution = 20;
    const dir = join(work, 'bad-resolution');
    await saveCheckpoint(dir, { ...ck.manifest, config: manifest.config }, new Float32Array(ck.paramCount));
    await assert.rejects(readDetectorCheckpoint(dir), (e: unknown) => e instanceof EmsegError && /mask\.resolution must be 2 x config\.mask\.poolSize/.test(e.message));
  });
});

// ---- com.emseg::BoxNMS ----

function boxNmsModelBytes(): Uint8Array {
  const graph = makeGraph({
    name: 'box_nms',
    nodes: [boxNmsNode({ boxes: 'boxes', scores: 'scores', iouThreshold: 'iou_threshold', maxOutput: 'max_output', classes: 'classes' }, 'keep')],
    inputs: [tensorValueInfo('boxes', 'float32', ['N', 4]), tensorValueInfo('scores', 'float32', ['N']), tensorValueInfo('iou_threshold', 'float32', []), tensorValueInfo('max_output', 'int64', []), tensorValueInfo('classes', 'int64', ['N'])],
    outputs: [tensorValueInfo('keep', 'int64', ['K'])],
  });
  return encodeModel(makeModel({ graph, functions: [boxNmsFunction()] }));
}

interface BoxProblem {
  name: string;
  boxes: BoxXYXY[];
  scores: number[];
  /** Class per box (batched NMS); absent: one class. */
  classes?: number[];
  threshold: number;
  maxOutput: number;
}

function boxProblems(): BoxProblem[] {
  const rand = seededRandom(99);
  const f = Math.fround;
  const randomBoxes = (n: number, spread: number): BoxXYXY[] => Array.from({ length: n }, () => {
    const x = rand() * spread, y = rand() * spread, w = 1 + rand() * 30, h = 1 + rand() * 30;
    return [f(x), f(y), f(x + w), f(y + h)];
  });
  const problems: BoxProblem[] = [];
  for (const [i, threshold] of [0.3, 0.5, 0.7].entries()) {
    const boxes = randomBoxes(300, 200);
    problems.push({ name: `random ${i}`, boxes, scores: boxes.map(() => f(rand())), threshold: f(threshold), maxOutput: 1000 });
  }
  const same: BoxXYXY[] = Array.from({ length: 6 }, () => [10, 10, 20, 20]);
  problems.push({ name: 'identical boxes, tied scores', boxes: same, scores: same.map(() => 0.5), threshold: f(0.5), maxOutput: 10 });
  // IoU exactly 0.5: [0,0,10,10] vs [0,0,10,5]: inter 50, union 100. Not suppressed (> only).
  problems.push({ name: 'IoU equal to the threshold', boxes: [[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4]], scores: [0.9, 0.8, 0.8], threshold: 0.5, maxOutput: 10 });
  problems.push({ name: 'tied scores, overlapping', boxes: [[0, 0, 10, 10], [1, 1, 11, 11], [2, 2, 12, 12], [50, 50, 60, 60]], scores: [0.5, 0.5, 0.5, 0.5], threshold: f(0.3), maxOutput: 10 });
  problems.push({ name: 'all suppressed but one', boxes: Array.from({ length: 20 }, (_, i): BoxXYXY => [i * 0.1, 0, 100 + i * 0.1, 100]), scores: Array.from({ length: 20 }, (_, i) => f(i / 20)), threshold: f(0.5), maxOutput: 100 });
  problems.push({ name: 'none suppressed', boxes: Array.from({ length: 20 }, (_, i): BoxXYXY => [i * 20, 0, i * 20 + 10, 10]), scores: Array.from({ length: 20 }, (_, i) => f(((i * 7) % 20) / 20)), threshold: f(0.1), maxOutput: 100 });
  problems.push({ name: 'touching edges (IoU 0)', boxes: [[0, 0, 10, 10], [10, 0, 20, 10]], scores: [0.9, 0.8], threshold: 0, maxOutput: 10 });
  problems.push({ name: 'limit below the kept count', boxes: randomBoxes(50, 400), scores: Array.from({ length: 50 }, () => f(rand())), threshold: f(0.5), maxOutput: 7 });
  problems.push({ name: 'empty', boxes: [], scores: [], threshold: 0.5, maxOutput: 10 });
  for (const [i, threshold] of [0.3, 0.7].entries()) {
    const boxes = randomBoxes(300, 150);
    problems.push({ name: `batched, 3 classes ${i}`, boxes, scores: boxes.map(() => f(rand())), classes: boxes.map(() => Math.floor(rand() * 3)), threshold: f(threshold), maxOutput: 1000 });
  }
  // Same boxes in two classes: each class keeps its own; ties across classes by index.
  problems.push({ name: 'batched, identical boxes in two classes', boxes: same, scores: same.map(() => 0.5), classes: [0, 1, 0, 1, 0, 1], threshold: f(0.5), maxOutput: 10 });
  problems.push({ name: 'batched, limit', boxes: randomBoxes(80, 300), scores: Array.from({ length: 80 }, () => f(rand())), classes: Array.from({ length: 80 }, (_, i) => i % 2), threshold: f(0.5), maxOutput: 9 });
  return problems;
}

describe('com.emseg::BoxNMS equals core/nms nms and batchedNms', () => {
  const bytes = boxNmsModelBytes();
  for (const rt of RUNTIMES) {
    it(`random and adversarial cases in ${rt.name}`, async () => {
      const session = await rt.ort.InferenceSession.create(bytes, { executionProviders: [rt.ep] });
      try {
        for (const p of boxProblems()) {
          const n = p.boxes.length;
          const out = await session.run({
            boxes: new rt.ort.Tensor('float32', Float32Array.from(p.boxes.flat()), [n, 4]),
            scores: new rt.ort.Tensor('float32', Float32Array.from(p.scores), [n]),
            iou_threshold: new rt.ort.Tensor('float32', Float32Array.from([p.threshold]), []),
            max_output: new rt.ort.Tensor('int64', BigInt64Array.from([BigInt(p.maxOutput)]), []),
            classes: new rt.ort.Tensor('int64', BigInt64Array.from(p.classes ?? p.boxes.map(() => 0), BigInt), [n]),
          });
          const scores = p.scores.map(Math.fround);
          const want = (p.classes ? batchedNms(p.boxes, scores, p.classes, Math.fround(p.threshold)) : nms(p.boxes, scores, Math.fround(p.threshold))).slice(0, p.maxOutput);
          assert.deepEqual(Array.from(out.keep.data as BigInt64Array, Number), want, `${p.name} (${rt.name})`);
        }
      } finally {
        await session.release();
      }
    });
  }
  it('builds with a fresh builder prefix (no name clashes with the graph)', () => {
    const f = boxNmsFunction();
    assert.ok((f.node ?? []).every((n) => (n.output ?? []).every((o) => o === 'keep' || o.startsWith('bnms_'))));
    assert.ok(new OpBuilder('x').prefix === 'x');
  });
});
