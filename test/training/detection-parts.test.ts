import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { rotatedIoU, seededRandom, type RotatedBox } from '../../core/index.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { generateAnchors } from '../../model/detection/anchors.ts';
import { BoxCoder, RotatedBoxCoder } from '../../model/detection/box-coder.ts';
import { BACKGROUND, IGNORE, matchBoxes, pairwiseIoU, sampleMatches } from '../../training/detection/matcher.ts';
import { fpnLevels, roiAlign } from '../../training/detection/roi-align.ts';
import { weightedGather } from '../../training/backend/weighted-gather.ts';

/** ONNX RoiAlign (half_pixel, avg) written directly from the operator's reference loops. */
function referenceRoiAlign(f: Float32Array, H: number, W: number, C: number, box: number[], P: number, S: number, scale: number): Float32Array {
  const out = new Float32Array(P * P * C);
  const [x1, y1, x2, y2] = box.map((v) => v * scale - 0.5);
  const bh = (y2 - y1) / P, bw = (x2 - x1) / P;
  const at = (y: number, x: number, c: number) => f[(y * W + x) * C + c];
  for (let ph = 0; ph < P; ph++) for (let pw = 0; pw < P; pw++) for (let c = 0; c < C; c++) {
    let acc = 0;
    for (let iy = 0; iy < S; iy++) for (let ix = 0; ix < S; ix++) {
      let y = y1 + ph * bh + ((iy + 0.5) * bh) / S, x = x1 + pw * bw + ((ix + 0.5) * bw) / S;
      if (y < -1 || y > H || x < -1 || x > W) continue;
      y = Math.max(y, 0); x = Math.max(x, 0);
      let yl = Math.floor(y), xl = Math.floor(x), yh = yl + 1, xh = xl + 1;
      if (yl >= H - 1) { yl = yh = H - 1; y = yl; }
      if (xl >= W - 1) { xl = xh = W - 1; x = xl; }
      const ly = y - yl, lx = x - xl;
      acc += (1 - ly) * (1 - lx) * at(yl, xl, c) + (1 - ly) * lx * at(yl, xh, c) + ly * (1 - lx) * at(yh, xl, c) + ly * lx * at(yh, xh, c);
    }
    out[(ph * P + pw) * C + c] = acc / (S * S);
  }
  return out;
}

describe('detection building blocks', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('generates anchors of area size^2 at every location, in head-output order', () => {
    const { anchors, perLevel } = generateAnchors([{ stride: 4, size: 32, height: 2, width: 3 }, { stride: 8, size: 64, height: 1, width: 2 }], [0.5, 1, 2]);
    assert.deepEqual(perLevel, [18, 6]);
    for (let a = 0; a < 24; a++) {
      const w = anchors[4 * a + 2] - anchors[4 * a], h = anchors[4 * a + 3] - anchors[4 * a + 1];
      assert.ok(Math.abs(w * h - (a < 18 ? 32 * 32 : 64 * 64)) < 1e-2);
    }
    // Location (x=1, y=0) of level 0, ratio 1: centred at (4, 0).
    const a = 1 * 3 + 1;
    assert.ok(Math.abs((anchors[4 * a] + anchors[4 * a + 2]) / 2 - 4) < 1e-6);
  });

  it('box coders invert each other (axis-aligned and rotated, incl. angles near +-90)', () => {
    const rand = seededRandom(2);
    const coder = new BoxCoder([10, 10, 5, 5]);
    const rcoder = new RotatedBoxCoder();
    const d = new Float32Array(6), back = new Float32Array(5);
    for (let i = 0; i < 100; i++) {
      const ref = [rand() * 50, rand() * 50, 60 + rand() * 50, 60 + rand() * 50];
      const gt = [ref[0] + rand() * 5, ref[1] + rand() * 5, ref[2] - rand() * 5, ref[3] + rand() * 5];
      coder.encode(ref, 0, gt, 0, d, 0);
      coder.decode(ref, 0, d, 0, back, 0);
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(back[k] - gt[k]) < 1e-3);
      const angle = i % 10 === 0 ? 89.99 : i % 10 === 1 ? -89.99 : rand() * 180 - 90;
      const rb: RotatedBox = [50 + rand() * 20, 50 + rand() * 20, 30 + rand() * 40, 5 + rand() * 10, angle];
      rcoder.encode(ref, 0, rb, 0, d, 0);
      rcoder.decode(ref, 0, d, 0, back, 0);
      assert.ok(rotatedIoU([...back] as unknown as RotatedBox, rb) > 0.9999, `${[...back]} vs ${rb}`);
    }
    // +89.99 and -89.99 degrees are nearly the same rod: their angle targets are nearly equal.
    const a = new Float32Array(6), b = new Float32Array(6);
    rcoder.encode([0, 0, 10, 10], 0, [5, 5, 8, 2, 89.99], 0, a, 0);
    rcoder.encode([0, 0, 10, 10], 0, [5, 5, 8, 2, -89.99], 0, b, 0);
    assert.ok(Math.abs(a[4] - b[4]) < 1e-3 && Math.abs(a[5] - b[5]) < 1e-3);
  });

  it('matches with thresholds and low-quality matches, and samples with a fixed positive fraction', () => {
    const gt = [0, 0, 10, 10, 100, 100, 104, 104];
    const boxes = [0, 0, 10, 10, 1, 1, 11, 11, 5, 5, 15, 15, 50, 50, 60, 60, 100, 100, 110, 110];
    const iou = pairwiseIoU(gt, boxes);
    const m = matchBoxes(iou, 2, 5, 0.3, 0.7, true);
    // IoUs with GT 0: 1, 0.68 (between thresholds: ignored), 0.14; box 4 only reaches GT 1 with 0.16.
    assert.deepEqual([...m], [0, IGNORE, BACKGROUND, BACKGROUND, 1]);
    const strict = matchBoxes(iou, 2, 5, 0.3, 0.7, false);
    assert.equal(strict[4], BACKGROUND, 'IoU 0.16 alone would be background');
    assert.equal(matchBoxes(new Float32Array([0.5]), 1, 1, 0.3, 0.7, false)[0], IGNORE);
    const big = new Int32Array(1000).map((_, i) => (i < 30 ? 0 : i < 60 ? IGNORE : BACKGROUND));
    const s = sampleMatches(big, 256, 0.5, 1);
    assert.equal(s.positives.length, 30);
    assert.equal(s.negatives.length, 226);
    assert.ok(s.negatives.every((i) => i >= 60));
  });

  it('RoIAlign equals the ONNX reference (borders included) and is trainable', () => {
    const H = 9, W = 11, C = 3;
    const f = tf.randomNormal([1, H, W, C], 0, 1, 'float32', 4) as tf.Tensor4D;
    const data = f.dataSync() as Float32Array;
    const boxes = [2, 3, 30, 20, -6, -5, 10, 8, 30, 25, 50, 40, 0, 0, 44, 36];
    const out = roiAlign(f, boxes, { outputSize: 3, samplingRatio: 2, spatialScale: 0.25 });
    const got = out.dataSync();
    for (let r = 0; r < 4; r++) {
      const ref = referenceRoiAlign(data, H, W, C, boxes.slice(4 * r, 4 * r + 4), 3, 2, 0.25);
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[r * ref.length + i] - ref[i]) < 1e-5, `roi ${r} value ${i}`);
    }
    const g = tf.grad((x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, { outputSize: 3, samplingRatio: 2, spatialScale: 0.25 }).sum())(f);
    assert.ok(g.abs().sum().dataSync()[0] > 0);
    assert.deepEqual([...fpnLevels([0, 0, 224, 224, 0, 0, 20, 20, 0, 0, 2000, 2000], 2, 5)], [4, 2, 5]);
  });

  it('the fused weighted-gather kernels equal gather + multiply + sum, values and gradients', () => {
    const N = 40, C = 5, M = 30, K = 4;
    const table = tf.randomNormal([N, C], 0, 1, 'float32', 9) as tf.Tensor2D;
    const index = Int32Array.from({ length: M * K }, (_, i) => (i * 7919) % N);
    const weight = Float32Array.from({ length: M * K }, (_, i) => (i % 5 === 0 ? 0 : ((i * 31) % 17) / 17 - 0.3));
    const upstream = tf.randomNormal([M, C], 0, 1, 'float32', 10);
    const composite = (t: tf.Tensor) => tf.sum(tf.reshape(tf.mul(tf.gather(t, tf.tensor1d(index, 'int32')), tf.tensor2d(weight, [M * K, 1])), [M, K, C]), 1);
    const fused = (t: tf.Tensor) => weightedGather(t as tf.Tensor2D, index, weight, K);
    const close = (a: tf.Tensor, b: tf.Tensor, what: string) => {
      const x = a.dataSync(), y = b.dataSync();
      assert.equal(x.length, y.length);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5, `${what} ${i}: ${x[i]} vs ${y[i]}`);
    };
    close(fused(table), composite(table), 'value');
    close(tf.grad((t: tf.Tensor) => fused(t).mul(upstream).sum())(table), tf.grad((t: tf.Tensor) => composite(t).mul(upstream).sum())(table), 'gradient');
  });
});
