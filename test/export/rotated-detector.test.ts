import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { EmsegError } from '../../core/errors.ts';
import { rotatedIoU } from '../../core/geometry/rotated-iou.ts';
import type { RotatedBox } from '../../core/geometry/types.ts';
import { normalizeImage } from '../../core/preprocess/normalize.ts';
import { seededRandom } from '../../core/random.ts';
import { generateHaadfNanorods } from '../../core/synth/haadf-nanorods.ts';
import { readDetectorCheckpoint } from '../../export/detection/checkpoint.ts';
import { float16BitsToNumber, float32ToFloat16Bits } from '../../onnx/fp16.ts';
import { emitRpnProposals } from '../../export/detection/rpn.ts';
import { EMSEG_DOMAIN, OpBuilder, decodeModel, encodeModel, int64ToNumber, makeGraph, makeModel, makeTensor, opsetImport, tensorValueInfo, type ModelProto, type NodeProto } from '../../onnx/index.ts';
import { buildFromCheckpoint, exportDetector, type DetectorOptions } from '../../export/detector.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { type CheckpointManifest, saveCheckpoint } from '../../model/checkpoint.ts';
import { defaultRotatedRcnnConfig } from '../../model/detection/config.ts';
import { generateAnchors } from '../../model/detection/anchors.ts';
import { rpnProposals } from '../../training/detection/proposals.ts';
import { fpnLevels, roiAlign } from '../../training/detection/roi-align.ts';
import { RotatedRcnn } from '../../training/detection/rotated-rcnn.ts';
import { FPN_LEVELS, FPN_STRIDES, backboneSpec, boxHeadSpec } from '../../model/detection/specs.ts';
import { runNet } from '../../training/net/run-tfjs.ts';
import { paramsOf } from '../../model/net/spec.ts';
import { type Instance, loadTrainedModel, predictNormalized } from '../../training/predict.ts';
import { RUNTIMES } from '../helpers/ort-runtimes.ts';
import { rotatedManifest, writeSmallRotatedCheckpoint } from '../helpers/small-detectors.ts';
import { pythonOnnxAvailable, requireTool } from '../helpers/tools.ts';

/**
 * The exported rotated detector against the tfjs reference (training/predict.ts): a small model
 * made without training (seeded init, then RPN and box-head parameters scaled so that it proposes
 * boxes and scores them over the whole range), a synthetic HAADF image, and the detections compared
 * in onnxruntime-node (CPU) and onnxruntime-web (wasm).
 */

const SIZE = 256;
const CLASSES = ['nanorod', 'other'];

/** A checkpoint of the default (recipe-size) config with seeded random parameters: no tfjs needed. */
async function writeDefaultCheckpoint(dir: string): Promise<number> {
  const config = defaultRotatedRcnnConfig(['nanorod']);
  const count = [...paramsOf(backboneSpec(config)), ...paramsOf(boxHeadSpec(config))].reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const rand = seededRandom(17);
  await saveCheckpoint(dir, rotatedManifest(config, count), Float32Array.from({ length: count }, () => 0.1 * (rand() - 0.5)));
  return count;
}

function testImage(seed: number): Float32Array {
  return normalizeImage(generateHaadfNanorods(seededRandom(seed), { size: SIZE })).data;
}

// ---- running the exported model ----


interface Detection {
  rbox: number[];
  box: number[];
  score: number;
  label: number;
}

interface RunResult {
  detections: Detection[][];
  raw: Record<string, { dims: readonly number[]; data: ArrayLike<number | bigint> }>;
}

async function runDetector(rt: (typeof RUNTIMES)[number], bytes: Uint8Array, images: Float32Array[], validSizes: [number, number][]): Promise<RunResult> {
  const { Tensor, InferenceSession } = rt.ort;
  const session = await InferenceSession.create(bytes, { executionProviders: [rt.ep] });
  try {
    const n = images.length;
    const image = new Float32Array(n * SIZE * SIZE);
    images.forEach((im, i) => image.set(im, i * SIZE * SIZE));
    const out = await session.run({
      image: new Tensor('float32', image, [n, 1, SIZE, SIZE]),
      image_size: new Tensor('int64', BigInt64Array.from(validSizes.flat(), BigInt), [n, 2]),
    });
    const K = out.scores.dims[1];
    const rb = out.rboxes.data as Float32Array;
    const bx = out.boxes.data as Float32Array;
    const sc = out.scores.data as Float32Array;
    const lb = out.labels.data as BigInt64Array;
    const counts = out.count.data as BigInt64Array;
    const detections = Array.from({ length: n }, (_, i) => {
      const c = Number(counts[i]);
      // Rows after `count` are zero.
      for (let j = c; j < K; j++) {
        const row = i * K + j;
        assert.ok(sc[row] === 0 && lb[row] === 0n && rb.subarray(5 * row, 5 * row + 5).every((v) => v === 0) && bx.subarray(4 * row, 4 * row + 4).every((v) => v === 0), `${rt.name}: padding row ${j} of image ${i} is not zero`);
      }
      return Array.from({ length: c }, (_, j) => {
        const row = i * K + j;
        return { rbox: Array.from(rb.subarray(5 * row, 5 * row + 5)), box: Array.from(bx.subarray(4 * row, 4 * row + 4)), score: sc[row], label: Number(lb[row]) };
      });
    });
    return { detections, raw: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: t.dims, data: t.data as ArrayLike<number | bigint> }])) };
  } finally {
    await session.release();
  }
}

/** Same detections: count, labels, order; rboxes and enclosing boxes within 1e-3, scores within 1e-4. */
function compareDetections(got: Detection[], want: Instance[], what: string, classes = CLASSES): { rbox: number; box: number; score: number } {
  assert.equal(got.length, want.length, `${what}: ${got.length} detections, tfjs has ${want.length}`);
  const worst = { rbox: 0, box: 0, score: 0 };
  got.forEach((g, i) => {
    const w = want[i];
    assert.equal(classes[g.label], w.label, `${what}: detection ${i} label`);
    assert.ok(w.rbox);
    for (let j = 0; j < 5; j++) worst.rbox = Math.max(worst.rbox, Math.abs(g.rbox[j] - w.rbox[j]));
    for (let j = 0; j < 4; j++) worst.box = Math.max(worst.box, Math.abs(g.box[j] - w.box[j]));
    worst.score = Math.max(worst.score, Math.abs(g.score - w.score));
    assert.ok(worst.rbox <= 1e-3 && worst.box <= 1e-3 && worst.score <= 1e-4, `${what}: detection ${i}: onnx ${JSON.stringify(g)}, tfjs ${JSON.stringify(w)}`);
  });
  return worst;
}

// ---- the tfjs reference's intermediate values (proposals, box-head outputs) ----

interface ReferenceStages {
  proposals: Float32Array;
  logits: Float32Array;
  probs: Float32Array;
  deltas: Float32Array;
}

/** RotatedRcnn.predict's steps before thresholding, from the same exported functions it uses. */
function referenceStages(model: RotatedRcnn, image: Float32Array): ReferenceStages {
  return tf.tidy(() => {
    const out = runNet(model.backbone, model.params, { image: tf.tensor4d(image, [1, SIZE, SIZE, 1]) });
    const { anchors, perLevel } = model.anchors(SIZE, SIZE);
    const r = model.config.rpn;
    const prop = rpnProposals(
      FPN_LEVELS.map((_, i) => out[`rpn.objectness.l${i}`].dataSync() as Float32Array),
      FPN_LEVELS.map((_, i) => out[`rpn.deltas.l${i}`].dataSync() as Float32Array),
      anchors, perLevel, SIZE, SIZE, r.preNmsTopKTest, r.postNmsTopKTest, r.nmsThreshold,
    );
    const R = prop.scores.length;
    const level = fpnLevels(prop.boxes, 2, 5);
    const pooled = tf.buffer([R, model.config.roi.poolSize, model.config.roi.poolSize, model.config.fpnChannels]);
    const cell = model.config.roi.poolSize ** 2 * model.config.fpnChannels;
    for (let l = 0; l < 4; l++) {
      const rows = Array.from({ length: R }, (_, i) => i).filter((i) => level[i] === l + 2);
      if (rows.length === 0) continue;
      const boxes = new Float32Array(rows.length * 4);
      rows.forEach((i, j) => boxes.set(prop.boxes.subarray(4 * i, 4 * i + 4), 4 * j));
      const p = roiAlign(out[FPN_LEVELS[l]] as tf.Tensor4D, boxes, { outputSize: model.config.roi.poolSize, samplingRatio: model.config.roi.samplingRatio, spatialScale: 1 / FPN_STRIDES[l] }).dataSync();
      rows.forEach((i, j) => pooled.values.set(p.subarray(j * cell, (j + 1) * cell), i * cell));
    }
    const head = runNet(model.head, model.params, { roi_features: pooled.toTensor() as tf.Tensor4D });
    return {
      proposals: prop.boxes,
      logits: prop.scores,
      probs: tf.softmax(tf.reshape(head['roi_heads.cls_score'], [R, -1])).dataSync() as Float32Array,
      deltas: head['roi_heads.rbox_pred'].dataSync() as Float32Array,
    };
  });
}

// ---- fixtures ----

let work = '';
let smallDir = '';
let defaultDir = '';
let defaultParams = 0;
let reference: RotatedRcnn;
const images: Float32Array[] = [];
const bytes = new Map<string, Uint8Array>();
const models = new Map<string, ModelProto>();
let exportSeconds = 0;

async function exportBytes(name: string, dir: string, options: DetectorOptions): Promise<Uint8Array> {
  const path = join(work, `${name}.onnx`);
  const r = await exportDetector(dir, path, options);
  if (name === 'default') exportSeconds = r.seconds;
  const b = new Uint8Array(readFileSync(path));
  bytes.set(name, b);
  models.set(name, decodeModel(b, path));
  return b;
}

before(async () => {
  await selectBackend('wasm');
  ortWeb.env.wasm.numThreads = 1;
  work = mkdtempSync(join(tmpdir(), 'emseg-rotated-export-'));
  smallDir = join(work, 'small');
  defaultDir = join(work, 'default');
  await writeSmallRotatedCheckpoint(smallDir, CLASSES, [0.5, -1, 2.5]);
  defaultParams = await writeDefaultCheckpoint(defaultDir);
  const loaded = await loadTrainedModel(smallDir, 'wasm');
  assert.ok(loaded instanceof RotatedRcnn);
  reference = loaded;
  images.push(testImage(5), testImage(6));
  await exportBytes('small', smallDir, { licence: 'CC-BY-4.0' });
  await exportBytes('small-fp16', smallDir, { fp16: true });
  await exportBytes('small-cut', smallDir, { maxDetections: 20 });
  await exportBytes('default', defaultDir, {});
  await exportBytes('default-fp16', defaultDir, { fp16: true });
  const ck = await readDetectorCheckpoint(smallDir);
  const debug = encodeModel(buildFromCheckpoint(ck, { debugOutputs: true }));
  bytes.set('small-debug', debug);
});

after(() => {
  for (const v of reference?.params.values() ?? []) v.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('emseg-export: rotated detector parity with the tfjs reference', () => {
  it('detections equal predictNormalized in onnxruntime-node and -web (same count, labels, order)', async () => {
    const want = predictNormalized(reference, images[0], SIZE, SIZE);
    assert.ok(want.length >= 30, `the test model gives ${want.length} detections; it should give many`);
    assert.ok(want.some((d) => d.label === 'other') && want.some((d) => d.label === 'nanorod'), 'both classes detected');
    for (const rt of RUNTIMES) {
      const { detections } = await runDetector(rt, bytes.get('small') as Uint8Array, [images[0]], [[0, 0]]);
      const worst = compareDetections(detections[0], want, rt.name);
      console.log(`${rt.name}: ${want.length} detections identical to tfjs; max |error| rbox ${worst.rbox.toExponential(2)}, box ${worst.box.toExponential(2)}, score ${worst.score.toExponential(2)}`);
    }
  });

  it('one class: detections equal predictNormalized', async () => {
    const dir = join(work, 'one-class');
    await writeSmallRotatedCheckpoint(dir, ['nanorod'], [0, 1.5]);
    const model = await loadTrainedModel(dir, 'wasm');
    let want: Instance[];
    try {
      want = predictNormalized(model, images[1], SIZE, SIZE);
    } finally {
      for (const v of model.params.values()) v.dispose();
    }
    assert.ok(want.length >= 30, `${want.length} detections`);
    const onnx = encodeModel(buildFromCheckpoint(await readDetectorCheckpoint(dir)));
    for (const rt of RUNTIMES) {
      const { detections } = await runDetector(rt, onnx, [images[1]], [[0, 0]]);
      const worst = compareDetections(detections[0], want, `one class, ${rt.name}`, ['nanorod']);
      console.log(`one class, ${rt.name}: ${want.length} detections identical to tfjs; max |error| rbox ${worst.rbox.toExponential(2)}, score ${worst.score.toExponential(2)}`);
    }
  });

  it('proposals and box-head outputs before thresholding match tfjs within 1e-4', async () => {
    const want = referenceStages(reference, images[0]);
    const R = want.logits.length;
    const K1 = CLASSES.length + 1;
    for (const rt of RUNTIMES) {
      const { raw } = await runDetector(rt, bytes.get('small-debug') as Uint8Array, [images[0]], [[0, 0]]);
      assert.equal(Number(raw.debug_proposal_count.data[0]), R, `${rt.name}: proposal count`);
      const boxes = raw.debug_proposals.data as Float32Array;
      const logits = raw.debug_proposal_logits.data as Float32Array;
      const probs = raw.debug_class_probs.data as Float32Array;
      const deltas = raw.debug_box_deltas.data as Float32Array;
      // Proposals come sorted by logit; logits differ by ~1e-6 between the runtimes, so proposals
      // whose logits are that close may swap places. Compare each ONNX proposal with the tfjs one
      // at the same rank, or else with the one of equal box among its near neighbours in rank.
      const same = (i: number, j: number): number => Math.max(...[0, 1, 2, 3].map((c) => Math.abs(boxes[4 * i + c] - want.proposals[4 * j + c])));
      let swapped = 0;
      const worst = { box: 0, logit: 0, prob: 0, delta: 0 };
      for (let i = 0; i < R; i++) {
        let j = i;
        if (same(i, i) > 1e-3) {
          swapped++;
          j = -1;
          for (let k = Math.max(0, i - 8); k < Math.min(R, i + 9); k++) if (same(i, k) <= 1e-3) j = k;
          assert.ok(j >= 0, `${rt.name}: proposal ${i} [${Array.from(boxes.subarray(4 * i, 4 * i + 4))}] (logit ${logits[i]}) has no tfjs counterpart`);
          assert.ok(Math.abs(want.logits[j] - want.logits[i]) <= 1e-4, `${rt.name}: proposals ${i} and ${j} swapped but their logits differ by more than 1e-4`);
        }
        worst.box = Math.max(worst.box, same(i, j));
        worst.logit = Math.max(worst.logit, Math.abs(logits[i] - want.logits[j]));
        for (let c = 0; c < K1; c++) worst.prob = Math.max(worst.prob, Math.abs(probs[i * K1 + c] - want.probs[j * K1 + c]));
        for (let c = 0; c < 6; c++) worst.delta = Math.max(worst.delta, Math.abs(deltas[i * 6 + c] - want.deltas[j * 6 + c]));
      }
      console.log(`${rt.name}: ${R} proposals (${swapped} pairs of nearly equal logits in swapped order), max |error| box ${worst.box.toExponential(2)}, logit ${worst.logit.toExponential(2)}, class prob ${worst.prob.toExponential(2)}, box delta ${worst.delta.toExponential(2)}`);
      assert.ok(worst.box <= 1e-3, `${rt.name}: proposal boxes differ by ${worst.box}`);
      for (const k of ['logit', 'prob', 'delta'] as const) assert.ok(worst[k] <= 1e-4, `${rt.name}: ${k} differs by ${worst[k]}`);
    }
  });

  it('a batch of two images with their own valid sizes equals two tfjs predictions; the detection limit cuts the ranked list', async () => {
    // Image 1 is treated as 250 x 240 pixels of a 256 x 256 input: the centre test uses the valid size.
    const valid: [number, number][] = [[0, 0], [240, 250]];
    const x = tf.tensor4d(images[1], [1, SIZE, SIZE, 1]);
    const second = reference.predict(x, { width: 250, height: 240 });
    x.dispose();
    const want = [predictNormalized(reference, images[0], SIZE, SIZE), second.map((d): Instance => ({ label: CLASSES[d.classIndex], score: d.score, box: [0, 0, 0, 0], rbox: d.rbox }))];
    assert.ok(want[1].length > 0);
    const { detections } = await runDetector(RUNTIMES[0], bytes.get('small') as Uint8Array, images, valid);
    compareDetections(detections[0], want[0], 'image 0 of 2');
    compareDetections(detections[1].map((d) => ({ ...d, box: [0, 0, 0, 0] })), want[1], 'image 1 of 2');
    const cut = await runDetector(RUNTIMES[0], bytes.get('small-cut') as Uint8Array, [images[0]], [[0, 0]]);
    compareDetections(cut.detections[0], want[0].slice(0, 20), '--max-detections 20');
  });

  it('box refinement (2 extra head passes): detections equal predictNormalized with the same setting, and differ from one pass', async () => {
    const onePass = predictNormalized(reference, images[0], SIZE, SIZE);
    const test = reference.config.test;
    reference.config.test = { ...test, refine: 2 };
    let want: Instance[];
    try {
      want = predictNormalized(reference, images[0], SIZE, SIZE);
    } finally {
      reference.config.test = test;
    }
    assert.ok(want.length >= 30, `${want.length} refined detections`);
    const moved = want.filter((d, i) => !onePass[i] || Math.abs(d.rbox![0] - onePass[i].rbox![0]) > 1e-3).length;
    assert.ok(moved > want.length / 2, `refinement moved ${moved} of ${want.length} detections`);
    const ck = await readDetectorCheckpoint(smallDir);
    const onnx = encodeModel(buildFromCheckpoint(ck, { refine: 2 }));
    for (const rt of RUNTIMES) {
      const { detections } = await runDetector(rt, onnx, [images[0]], [[0, 0]]);
      const worst = compareDetections(detections[0], want, `refine 2, ${rt.name}`);
      console.log(`refine 2, ${rt.name}: ${want.length} detections identical to tfjs; max |error| rbox ${worst.rbox.toExponential(2)}, score ${worst.score.toExponential(2)}`);
    }
    assert.throws(() => buildFromCheckpoint(ck, { refine: 9 }), (e: unknown) => e instanceof EmsegError && /box refinement passes/.test(e.message));
  });

  it('rotated second stage (rotated RoIAlign as GridSample), also with 1 refinement pass: detections equal predictNormalized', async () => {
    const dir = join(work, 'stage2');
    await writeSmallRotatedCheckpoint(dir, CLASSES, [0.5, -1, 2.5], { rotatedStage: true });
    const model = await loadTrainedModel(dir, 'wasm');
    assert.ok(model instanceof RotatedRcnn && model.rotatedHead);
    const firstStage = predictNormalized(reference, images[0], SIZE, SIZE);
    const ck = await readDetectorCheckpoint(dir);
    assert.ok(ck.rotatedHead, 'the checkpoint reader finds the second stage');
    try {
      for (const refine of [0, 1]) {
        model.config.test = { ...model.config.test, refine };
        const want = predictNormalized(model, images[0], SIZE, SIZE);
        assert.ok(want.length >= 30, `${want.length} detections`);
        // The same first stage (same seeds): the second stage must move the boxes.
        const moved = want.filter((d) => !firstStage.some((f) => Math.abs(f.rbox![0] - d.rbox![0]) < 1e-3 && Math.abs(f.rbox![1] - d.rbox![1]) < 1e-3)).length;
        assert.ok(moved > want.length / 2, `the second stage moved ${moved} of ${want.length} detections`);
        const onnx = encodeModel(buildFromCheckpoint(ck, { refine }));
        for (const rt of RUNTIMES) {
          const { detections } = await runDetector(rt, onnx, [images[0]], [[0, 0]]);
          const worst = compareDetections(detections[0], want, `second stage, refine ${refine}, ${rt.name}`);
          console.log(`second stage, refine ${refine}, ${rt.name}: ${want.length} detections identical to tfjs; max |error| rbox ${worst.rbox.toExponential(2)}, score ${worst.score.toExponential(2)}`);
        }
      }
    } finally {
      for (const v of model.params.values()) v.dispose();
    }
  });

  it('score threshold 1: no detections, all outputs zero', async () => {
    const ck = await readDetectorCheckpoint(smallDir);
    const none = encodeModel(buildFromCheckpoint(ck, { scoreThreshold: 1 }));
    const { detections, raw } = await runDetector(RUNTIMES[0], none, [images[0]], [[0, 0]]);
    assert.equal(detections[0].length, 0);
    assert.deepEqual(raw.scores.dims, [1, 300]);
  });

  it('no proposals (every RPN box empty): no detections, as tfjs', async () => {
    // dw = dh = -1e4 for every anchor: exp() underflows to 0, every decoded box is empty and dropped.
    const dir = join(work, 'no-proposals');
    mkdirSync(dir);
    const manifest = JSON.parse(readFileSync(join(smallDir, 'manifest.json'), 'utf8')) as CheckpointManifest;
    const params = new Float32Array(new Uint8Array(readFileSync(join(smallDir, 'params.bin'))).buffer);
    let offset = 0;
    for (const p of manifest.params) {
      const size = p.shape.reduce((a, b) => a * b, 1);
      if (p.name === 'rpn.deltas.l0.bias') for (let i = 0; i < size; i++) if (i % 4 >= 2) params[offset + i] = -1e4;
      offset += size;
    }
    await saveCheckpoint(dir, manifest, params);
    const model = await loadTrainedModel(dir, 'wasm');
    try {
      assert.deepEqual(predictNormalized(model, images[0], SIZE, SIZE), []);
    } finally {
      for (const v of model.params.values()) v.dispose();
    }
    const none = encodeModel(buildFromCheckpoint(await readDetectorCheckpoint(dir), { debugOutputs: true }));
    for (const rt of RUNTIMES) {
      const { detections, raw } = await runDetector(rt, none, [images[0]], [[0, 0]]);
      assert.equal(detections[0].length, 0, rt.name);
      assert.equal(Number(raw.debug_proposal_count.data[0]), 0, rt.name);
    }
  });

  it('fp16 weights: half the file, the same detections at AP50', async () => {
    const full = bytes.get('small') as Uint8Array;
    const half = bytes.get('small-fp16') as Uint8Array;
    const { detections: [a] } = await runDetector(RUNTIMES[0], full, [images[0]], [[0, 0]]);
    const { detections: [b] } = await runDetector(RUNTIMES[0], half, [images[0]], [[0, 0]]);
    const ap = ap50(b, a);
    console.log(`fp16: ${b.length} detections vs ${a.length} (fp32); AP50 of fp16 against fp32 as ground truth ${ap.toFixed(4)}`);
    assert.ok(ap >= 0.95, `fp16 AP50 against fp32 ${ap}`);
    const d = bytes.get('default') as Uint8Array;
    const dh = bytes.get('default-fp16') as Uint8Array;
    const ratio = dh.length / d.length;
    console.log(`default-size model: fp32 ${d.length} bytes, fp16 ${dh.length} bytes (x${ratio.toFixed(3)})`);
    assert.ok(ratio > 0.48 && ratio < 0.53, `fp16 file is ${ratio.toFixed(3)} of the fp32 file`);
    // binary16 rounding: exact on representable values, ties to even, subnormals, overflow.
    for (const v of [0, 1, -2.5, 65504, 2 ** -24, 2 ** -14, 0.1, 1 / 3, 1e-6]) {
      assert.ok(Math.abs(float16BitsToNumber(float32ToFloat16Bits(v)) - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25), `fp16(${v})`);
    }
    assert.equal(float16BitsToNumber(float32ToFloat16Bits(1 + 2 ** -11)), 1); // tie: to even
    assert.equal(float16BitsToNumber(float32ToFloat16Bits(1e6)), Infinity);
  });
});

const asRotatedBox = (v: readonly number[]): RotatedBox => [v[0], v[1], v[2], v[3], v[4]];

/** AP at IoU 0.5 of `detections` (by score) against `truth` (every one a ground-truth object), rotated IoU, class-aware. */
function ap50(detections: Detection[], truth: Detection[]): number {
  const taken = new Uint8Array(truth.length);
  const sorted = [...detections].sort((p, q) => q.score - p.score);
  const tp: number[] = [];
  for (const d of sorted) {
    let best = -1;
    let bestIoU = 0.5;
    truth.forEach((t, i) => {
      if (taken[i] || t.label !== d.label) return;
      const iou = rotatedIoU(asRotatedBox(d.rbox), asRotatedBox(t.rbox));
      if (iou >= bestIoU) [best, bestIoU] = [i, iou];
    });
    if (best >= 0) taken[best] = 1;
    tp.push(best >= 0 ? 1 : 0);
  }
  // All-point interpolated precision-recall area.
  let hits = 0;
  const precision: number[] = [];
  const recall: number[] = [];
  tp.forEach((t, i) => {
    hits += t;
    precision.push(hits / (i + 1));
    recall.push(hits / truth.length);
  });
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let area = 0;
  let last = 0;
  recall.forEach((r, i) => {
    area += (r - last) * precision[i];
    last = r;
  });
  return area;
}

describe('emseg-export: RPN stage alone, bit for bit', () => {
  // A 128 x 128 image: levels of 32, 16, 8, 4 cells, 3 anchors each. Default anchors: the 16 x 16
  // anchors of P2 (stride 4) overlap their neighbours with IoU 12 * 16 / (2 * 256 - 192) = 0.6
  // exactly, so with an RPN NMS threshold of 0.6 every neighbour pair sits on the threshold.
  const S = 128;
  const config = { ...defaultRotatedRcnnConfig(['nanorod']), rpn: { ...defaultRotatedRcnnConfig(['nanorod']).rpn, nmsThreshold: 0.6, preNmsTopKTest: 300, postNmsTopKTest: 200 } };
  const A = config.anchorRatios.length;
  const sizes = FPN_STRIDES.map((s) => S / s);

  function rpnModel(): ModelProto {
    const b = new OpBuilder('');
    const levels = sizes.map((_, l) => ({ objectness: `objectness_${l}`, deltas: `deltas_${l}` }));
    const side = b.scalar('float32', S);
    const r = config.rpn;
    const out = emitRpnProposals(b, levels, side, side, { strides: FPN_STRIDES, anchorSizes: config.anchorSizes, anchorRatios: config.anchorRatios, preNmsTopK: r.preNmsTopKTest, postNmsTopK: r.postNmsTopKTest, nmsThreshold: r.nmsThreshold });
    b.opTo('boxes', 'Identity', [out.boxes]);
    b.opTo('logits', 'Identity', [out.logits]);
    const inputs = sizes.flatMap((n, l) => [tensorValueInfo(`objectness_${l}`, 'float32', [1, A, n, n]), tensorValueInfo(`deltas_${l}`, 'float32', [1, 4 * A, n, n])]);
    const graph = makeGraph({ name: 'rpn', nodes: b.nodes, inputs, outputs: [tensorValueInfo('boxes', 'float32', [null, 4]), tensorValueInfo('logits', 'float32', [null])] });
    return makeModel({ graph, opsetImports: [opsetImport('', 17)] });
  }

  /** Per level NHWC logits [n * n * A] and deltas [n * n * 4A] (the reference's layout). */
  function inputs(seed: number, deltaScale: number): { logits: Float32Array[]; deltas: Float32Array[] } {
    const rand = seededRandom(seed);
    // Logits on a coarse grid: many ties, within and across levels.
    const logits = sizes.map((n) => Float32Array.from({ length: n * n * A }, () => Math.round(rand() * 8) / 4));
    const deltas = sizes.map((n) => Float32Array.from({ length: n * n * 4 * A }, () => deltaScale * (rand() * 2 - 1)));
    return { logits, deltas };
  }

  const nchw = (x: Float32Array, n: number, c: number): Float32Array => {
    const out = new Float32Array(x.length);
    for (let i = 0; i < n * n; i++) for (let k = 0; k < c; k++) out[k * n * n + i] = x[i * c + k];
    return out;
  };

  async function run(rt: (typeof RUNTIMES)[number], model: ModelProto, x: { logits: Float32Array[]; deltas: Float32Array[] }): Promise<{ boxes: Float32Array; logits: Float32Array }> {
    const session = await rt.ort.InferenceSession.create(encodeModel(model), { executionProviders: [rt.ep] });
    try {
      const feeds: Record<string, ortNode.Tensor> = {};
      sizes.forEach((n, l) => {
        feeds[`objectness_${l}`] = new rt.ort.Tensor('float32', nchw(x.logits[l], n, A), [1, A, n, n]);
        feeds[`deltas_${l}`] = new rt.ort.Tensor('float32', nchw(x.deltas[l], n, 4 * A), [1, 4 * A, n, n]);
      });
      const out = await session.run(feeds);
      return { boxes: out.boxes.data as Float32Array, logits: out.logits.data as Float32Array };
    } finally {
      await session.release();
    }
  }

  function reference(x: { logits: Float32Array[]; deltas: Float32Array[] }): { boxes: Float32Array; scores: Float32Array } {
    const { anchors, perLevel } = generateAnchors(FPN_STRIDES.map((stride, i) => ({ stride, size: config.anchorSizes[i], height: S / stride, width: S / stride })), config.anchorRatios);
    const r = config.rpn;
    return rpnProposals(x.logits, x.deltas, anchors, perLevel, S, S, r.preNmsTopKTest, r.postNmsTopKTest, r.nmsThreshold);
  }

  for (const [name, seed, deltaScale] of [['boxes = anchors (IoU == threshold), tied logits', 1, 0], ['random deltas, tied logits', 2, 2]] as const) {
    it(`${name}: equal to rpnProposals (tfjs NonMaxSuppression) in both runtimes`, async () => {
      const x = inputs(seed, deltaScale);
      const want = reference(x);
      const model = rpnModel();
      for (const rt of RUNTIMES) {
        const got = await run(rt, model, x);
        assert.deepEqual(Array.from(got.logits), Array.from(want.scores), `${rt.name}: logits`);
        assert.deepEqual(Array.from(got.boxes), Array.from(want.boxes), `${rt.name}: boxes`);
      }
      if (deltaScale === 0) {
        // The same graph with ONNX's own threshold semantics (IoU > 0.6) keeps the neighbours that
        // tfjs (IoU >= 0.6) suppresses: the case is sensitive to the rule.
        for (const n of model.graph?.node ?? []) {
          if (n.opType === 'Constant' && n.output?.[0]?.startsWith('rpn_iou')) n.attribute = [{ ...n.attribute?.[0], t: makeTensor(n.output[0], 'float32', [1], [0.6]) }];
        }
        const strict = await run(RUNTIMES[0], model, x);
        const differing = Array.from({ length: want.scores.length }, (_, i) => i).filter((i) => [0, 1, 2, 3].some((c) => strict.boxes[4 * i + c] !== want.boxes[4 * i + c])).length;
        assert.ok(differing > 0);
        console.log(`RPN NMS with neighbours at IoU == threshold: ${want.scores.length} proposals equal to tfjs; with ONNX's IoU > threshold rule unadjusted, ${differing} of them differ`);
      }
    });
  }
});

describe('emseg-export: model file', () => {
  function allNodes(model: ModelProto): NodeProto[] {
    const out: NodeProto[] = [];
    const walk = (nodes: readonly NodeProto[]): void => {
      for (const n of nodes) {
        out.push(n);
        for (const a of n.attribute ?? []) if (a.g?.node) walk(a.g.node);
      }
    };
    walk(model.graph?.node ?? []);
    for (const f of model.functions ?? []) walk(f.node ?? []);
    return out;
  }

  it('standard opset-17 ops plus com.emseg::RotatedNMS (carried as a model-local function); inputs, outputs and metadata', () => {
    const model = models.get('small') as ModelProto;
    assert.deepEqual(model.opsetImport?.map((o) => [o.domain, int64ToNumber(o.version)]), [['', 17], [EMSEG_DOMAIN, 1]]);
    const custom = allNodes(model).filter((n) => (n.domain ?? '') !== '');
    assert.deepEqual([...new Set(custom.map((n) => `${n.domain}::${n.opType}`))], [`${EMSEG_DOMAIN}::RotatedNMS`]);
    assert.equal(custom.length, 1, 'one batched RotatedNMS call for all classes');
    assert.deepEqual(model.functions?.map((f) => `${f.domain}::${f.name}`), [`${EMSEG_DOMAIN}::RotatedNMS`]);
    assert.deepEqual(model.graph?.input?.map((v) => v.name), ['image', 'image_size']);
    assert.deepEqual(model.graph?.output?.map((v) => v.name), ['rboxes', 'boxes', 'scores', 'labels', 'count']);
    const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key, p.value]));
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.equal(meta['emseg.task'], 'rotated-detection');
    assert.deepEqual(JSON.parse(meta['emseg.classes'] ?? ''), CLASSES);
    assert.deepEqual(JSON.parse(meta['emseg.normalization'] ?? ''), { method: 'percentile', low: 0.5, high: 99.5 });
    assert.equal(meta['emseg.pixel_size_nm'], 'null');
    assert.equal(meta['emseg.version'], version);
    assert.deepEqual(JSON.parse(meta['emseg.metrics'] ?? ''), { best: { AP: 0.5, AP50: 0.75 } });
    assert.equal(meta['emseg.training_data_licence'], 'CC-BY-4.0');
    assert.equal((models.get('small-fp16') as ModelProto).metadataProps?.find((p) => p.key === 'emseg.training_data_licence')?.value, 'unknown');
  });

  it('default-size model: file <= 1.05 x the float32 weights (export time is printed; speed belongs to npm run bench)', () => {
    const size = statSync(join(work, 'default.onnx')).size;
    const ratio = size / (4 * defaultParams);
    console.log(`default-size model: ${defaultParams} parameters, export ${exportSeconds.toFixed(2)} s, ${size} bytes (x${ratio.toFixed(4)} the float32 weights)`);
    assert.ok(ratio <= 1.05, `file is ${ratio.toFixed(3)} x the weight bytes`);
  });

  it('passes the ONNX checker (Debian python3-onnx, full_check), fp32 and fp16', (t) => {
    const python = '/usr/bin/python3';
    if (!requireTool(t, pythonOnnxAvailable(), 'python3-onnx (apt-get install -y python3-onnx)')) return;
    const script = 'import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint("ok", len(sys.argv) - 1)';
    const paths = ['small', 'small-fp16', 'default', 'default-fp16'].map((n) => join(work, `${n}.onnx`));
    const debug = join(work, 'small-debug.onnx');
    writeFileSync(debug, bytes.get('small-debug') as Uint8Array);
    const result = spawnSync(python, ['-c', script, ...paths, debug], { encoding: 'utf8' });
    assert.equal(result.status, 0, `onnx.checker failed:\n${result.stderr}`);
    assert.match(result.stdout, /^ok 5/);
  });
});

describe('emseg-export: bad checkpoints and the CLI', () => {
  /** A copy of the small checkpoint with one thing broken. */
  function broken(name: string, edit: (dir: string) => void): string {
    const dir = join(work, `bad-${name}`);
    mkdirSync(dir, { recursive: true });
    for (const f of ['manifest.json', 'params.bin']) writeFileSync(join(dir, f), readFileSync(join(smallDir, f)));
    edit(dir);
    return dir;
  }
  const editManifest = (dir: string, f: (m: Record<string, unknown>) => void): void => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    f(m);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  };

  const CASES: { name: string; edit: (dir: string) => void; code: string; message: RegExp }[] = [
    { name: 'no-manifest', edit: (d) => rmSync(join(d, 'manifest.json')), code: 'EMSEG_FILE_READ', message: /manifest\.json missing/ },
    { name: 'not-json', edit: (d) => writeFileSync(join(d, 'manifest.json'), '{"format": '), code: 'EMSEG_FORMAT_BAD_HEADER', message: /not a valid checkpoint manifest/ },
    { name: 'json-null', edit: (d) => writeFileSync(join(d, 'manifest.json'), 'null'), code: 'EMSEG_FORMAT_BAD_HEADER', message: /not a checkpoint manifest \(a JSON null/ },
    { name: 'foreign-format', edit: (d) => editManifest(d, (m) => (m.format = 'pytorch')), code: 'EMSEG_FORMAT_BAD_HEADER', message: /not an emseg checkpoint \(format "pytorch"\)/ },
    { name: 'truncated-params', edit: (d) => writeFileSync(join(d, 'params.bin'), readFileSync(join(d, 'params.bin')).subarray(0, 1000)), code: 'EMSEG_FORMAT_TRUNCATED', message: /holds 1000 bytes/ },
    { name: 'no-params', edit: (d) => rmSync(join(d, 'params.bin')), code: 'EMSEG_FORMAT_TRUNCATED', message: /params\.bin is missing/ },
    { name: 'other-task', edit: (d) => editManifest(d, (m) => (m.task = 'semantic-segmentation')), code: 'EMSEG_FORMAT_UNSUPPORTED', message: /writes "rotated-detection" and "instance-segmentation" models/ },
    { name: 'task-mismatch', edit: (d) => editManifest(d, (m) => (m.task = 'instance-segmentation')), code: 'EMSEG_FORMAT_BAD_HEADER', message: /task "instance-segmentation" but config\.task "rotated-detection"/ },
    {
      name: 'config-fields',
      edit: (d) => editManifest(d, (m) => {
        const c = m.config as Record<string, Record<string, unknown>>;
        delete c.roi.poolSize;
        delete c.test;
      }),
      code: 'EMSEG_FORMAT_BAD_HEADER',
      message: /config\.roi\.poolSize is missing.*config\.test\.scoreThreshold is missing/,
    },
    { name: 'other-network', edit: (d) => editManifest(d, (m) => ((m.config as Record<string, unknown>).fpnChannels = 32)), code: 'EMSEG_FORMAT_BAD_HEADER', message: /the config describes networks with \d+ parameters, the checkpoint holds \d+/ },
    // Found by test/fuzz: 2^53 residual blocks made building the networks loop for good; a value nested
    // too deeply for JSON.stringify made the message itself a RangeError.
    { name: 'huge-blocks', edit: (d) => editManifest(d, (m) => (((m.config as Record<string, Record<string, unknown>>).backbone.blocks as number[])[0] = 2 ** 53)), code: 'EMSEG_FORMAT_BAD_HEADER', message: /config\.backbone\.blocks is \[9007199254740992,2,2,2\] \(expected 4 integers in 1\.\.64\)/ },
    { name: 'deep-config-value', edit: (d) => writeFileSync(join(d, 'manifest.json'), readFileSync(join(d, 'manifest.json'), 'utf8').replace(/"fpnChannels": ?\d+/, `"fpnChannels":${'['.repeat(20_000)}1${']'.repeat(20_000)}`)), code: 'EMSEG_FORMAT_BAD_HEADER', message: /config\.fpnChannels is \[1 item, nested too deeply to show\]/ },
  ];

  for (const c of CASES) {
    it(`${c.name}: EmsegError ${c.code}`, async () => {
      const dir = broken(c.name, c.edit);
      await assert.rejects(readDetectorCheckpoint(dir), (e: unknown) => {
        assert.ok(e instanceof EmsegError, `not an EmsegError: ${String(e)}`);
        assert.equal(e.code, c.code, e.message);
        assert.match(e.message, c.message);
        return true;
      });
    });
  }

  it('an unwritable target: EMSEG_FILE_WRITE, and neither the model nor a temporary file is left', async () => {
    const target = join(work, 'no-such-dir', 'model.onnx');
    await assert.rejects(exportDetector(smallDir, target), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FILE_WRITE' && e.message.startsWith(target));
    // A directory in the way of the rename: the temporary file is removed again.
    const blocked = join(work, 'blocked.onnx');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    await assert.rejects(exportDetector(smallDir, blocked), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FILE_WRITE');
    assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('blocked.onnx.')), [], 'no temporary file left');
  });

  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/emseg-export.ts', ...args], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });

  it('CLI: exports and prints a summary; a bad checkpoint gives the message without a stack trace and exit 1', () => {
    const out = join(work, 'cli.onnx');
    const ok = cli([smallDir, '-o', out, '--max-detections', '50', '--licence', 'CC0-1.0']);
    assert.equal(ok.status, 0, ok.stderr);
    for (const word of ['inputs:', 'image float32 [N, 1, H, W]', 'outputs:', 'rboxes float32 [N, 50, 5]', 'ops ', 'RotatedNMS', 'parameters:', ' MB', ' s']) assert.ok(ok.stdout.includes(word), `summary lacks "${word}":\n${ok.stdout}`);
    assert.ok(decodeModel(readFileSync(out)).metadataProps?.some((p) => p.key === 'emseg.training_data_licence' && p.value === 'CC0-1.0'));
    const truncated = broken('cli-truncated', (d) => writeFileSync(join(d, 'params.bin'), readFileSync(join(d, 'params.bin')).subarray(0, 1000)));
    const bad = cli([truncated, '-o', join(work, 'never.onnx')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^emseg-export: error EMSEG_FORMAT_TRUNCATED: .*holds 1000 bytes/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    const usage = cli([smallDir, '-o', out, '--opset', '18']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--opset must be 17/);
  });
});
