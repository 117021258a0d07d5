import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { rotatedIoU, seededRandom, type RotatedBox } from '../../core/index.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { RotatedRoiCoder } from '../../model/detection/box-coder.ts';
import { rotatedFpnLevels, rotatedRoiAlign, type RotatedRoiAlignOptions } from '../../training/detection/rotated-roi-align.ts';

/**
 * The second stage's building blocks: rotated RoIAlign (checked against closed forms: on a map that
 * is linear in x and y, bilinear sampling is exact, so each output cell equals the map at the
 * cell's centre, wherever the box points) and the rotated-RoI delta coder.
 */

const H = 40, W = 48, C = 2;
/** Channel 0: 0.7 x - 0.3 y + 2; channel 1: -0.2 x + 0.9 y (feature-pixel coordinates). */
const linear = (x: number, y: number, c: number): number => (c === 0 ? 0.7 * x - 0.3 * y + 2 : -0.2 * x + 0.9 * y);

function linearMap(): tf.Tensor4D {
  const v = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) v[(y * W + x) * C + c] = linear(x, y, c);
  return tf.tensor4d(v, [1, H, W, C]);
}

describe('rotated RoIAlign', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const o: RotatedRoiAlignOptions = { outputSize: 5, samplingRatio: 2, spatialScale: 0.5, extend: [1.2, 1.4] };

  it('on a linear map each cell is the map at the cell centre of the turned, extended window, for any angle', () => {
    const map = linearMap();
    for (const angle of [0, 30, -75, 90, 135, -179]) {
      const rbox = [46, 40, 30, 12, angle]; // image pixels; the extended window stays inside the map at stride 2
      const out = rotatedRoiAlign(map, rbox, o);
      const got = out.dataSync();
      out.dispose();
      const t = (angle * Math.PI) / 180;
      let worst = 0;
      for (let ph = 0; ph < 5; ph++) for (let pw = 0; pw < 5; pw++) {
        const u = 30 * 1.2 * ((pw + 0.5) / 5 - 0.5), v = 12 * 1.4 * ((ph + 0.5) / 5 - 0.5);
        const x = 46 + u * Math.cos(t) + v * Math.sin(t), y = 40 - u * Math.sin(t) + v * Math.cos(t);
        for (let c = 0; c < C; c++) worst = Math.max(worst, Math.abs(got[(ph * 5 + pw) * C + c] - linear(x * 0.5 - 0.5, y * 0.5 - 0.5, c)));
      }
      assert.ok(worst < 1e-4, `angle ${angle}: max error ${worst}`);
    }
    map.dispose();
  });

  it('the same rectangle turned by 180 degrees gives the output reversed along both axes', () => {
    const rand = seededRandom(3);
    const v = Float32Array.from({ length: H * W * C }, () => rand());
    const map = tf.tensor4d(v, [1, H, W, C]);
    const a = rotatedRoiAlign(map, [40, 38, 26, 10, 25], o).arraySync()[0];
    const b = rotatedRoiAlign(map, [40, 38, 26, 10, 205], o).arraySync()[0];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) for (let c = 0; c < C; c++) assert.ok(Math.abs(a[i][j][c] - b[4 - i][4 - j][c]) < 1e-5);
    map.dispose();
  });

  it('outside the map samples are zero (GridSample zeros padding); the gradient scatters each cell\'s unit weight', () => {
    const map = linearMap();
    const outside = rotatedRoiAlign(map, [-200, -200, 20, 10, 33], o);
    assert.ok(outside.dataSync().every((x) => x === 0));
    outside.dispose();
    // Half the window beyond the left edge: the cells there are smaller than the linear extrapolation.
    const edge = rotatedRoiAlign(map, [0, 40, 30, 12, 0], o).dataSync();
    assert.ok(edge[0 * C] === 0 && edge[(2 * 5 + 0) * C] === 0, 'a cell wholly left of the map is 0');
    map.dispose();
    const g = tf.grad((f: tf.Tensor) => tf.sum(rotatedRoiAlign(f as tf.Tensor4D, [46, 40, 30, 12, 30, 30, 30, 8, 6, -60], o)))(tf.zeros([1, H, W, C]));
    const total = tf.sum(g).dataSync()[0];
    g.dispose();
    // Two boxes inside the map, 25 cells, 2 channels, bilinear weights summing to 1 per cell.
    assert.ok(Math.abs(total - 2 * 25 * C) < 1e-3, `gradient mass ${total}`);
  });

  it('FPN level by the rotated box area (canonical 224 at level 4), clamped to 2..5', () => {
    assert.deepEqual(Array.from(rotatedFpnLevels([0, 0, 224, 224, 30, 0, 0, 448, 112, -60, 0, 0, 20, 5, 0, 0, 0, 2000, 2000, 0], 2, 5)), [4, 4, 2, 5]);
  });
});

describe('RotatedRoiCoder (rotated RoI -> rotated box deltas)', () => {
  it('decode inverts encode to the same rectangle, incl. targets turned ~90 degrees from the RoI and near the +-90 seam; angle deltas within +-pi/4', () => {
    const coder = new RotatedRoiCoder();
    const rand = seededRandom(11);
    const out = new Float32Array(5), back = new Float32Array(5);
    for (let i = 0; i < 500; i++) {
      const ref: RotatedBox = [200 * rand(), 200 * rand(), 10 + 60 * rand(), 5 + 30 * rand(), -90 + 180 * rand()];
      const turn = i % 3 === 0 ? 90 + 20 * (rand() - 0.5) : 60 * (rand() - 0.5);
      const gt: RotatedBox = [ref[0] + 10 * (rand() - 0.5), ref[1] + 10 * (rand() - 0.5), ref[2] * (0.5 + rand()), ref[3] * (0.5 + rand()), ref[4] + turn];
      coder.encode(ref, 0, gt, 0, out, 0);
      assert.ok(Math.abs(out[4]) <= (coder.weights[4] * Math.PI) / 4 + 1e-9, `angle delta ${out[4]}`);
      coder.decode(ref, 0, out, 0, back, 0);
      assert.ok(back[2] >= back[3] && back[4] >= -90 && back[4] < 90, `canonical: ${Array.from(back)}`);
      const iou = rotatedIoU(gt, [back[0], back[1], back[2], back[3], back[4]]);
      assert.ok(iou > 0.9999, `box ${i}: IoU ${iou} between ${gt} and ${Array.from(back)}`);
    }
    // Zero deltas decode to the RoI itself (canonical form).
    coder.decode([10, 20, 8, 30, 75], 0, [0, 0, 0, 0, 0], 0, back, 0);
    assert.deepEqual(Array.from(back).map((v) => Math.round(v * 1e4) / 1e4), [10, 20, 30, 8, -15]);
  });
});
