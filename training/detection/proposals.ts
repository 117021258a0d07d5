import * as tf from '@tensorflow/tfjs';
import { BoxCoder } from '../../model/detection/box-coder.ts';

/**
 * RPN proposals for one image, as detectron2's find_top_rpn_proposals: per level the top-k anchors
 * by objectness, decoded, clipped to the image, empty boxes dropped, NMS per level (level-aware, as
 * batched NMS with the level as class), then the best `postNmsTopK` over all levels.
 * Inputs are the per-level logits [A_l] and deltas [A_l * 4] already read back to the CPU.
 */
export function rpnProposals(
  logits: Float32Array[],
  deltas: Float32Array[],
  anchors: Float32Array,
  perLevel: number[],
  imageWidth: number,
  imageHeight: number,
  preNmsTopK: number,
  postNmsTopK: number,
  nmsThreshold: number,
): { boxes: Float32Array; scores: Float32Array } {
  const coder = new BoxCoder([1, 1, 1, 1]);
  const keptBoxes: number[] = [];
  const keptScores: number[] = [];
  let offset = 0;
  perLevel.forEach((count, level) => {
    const lg = logits[level];
    const k = Math.min(preNmsTopK, count);
    const order = topK(lg, k);
    const boxes = new Float32Array(k * 4);
    const scores = new Float32Array(k);
    let n = 0;
    for (const i of order) {
      coder.decode(anchors, offset + i, deltas[level], 4 * i, boxes, 4 * n);
      const b = boxes.subarray(4 * n, 4 * n + 4);
      b[0] = Math.min(Math.max(b[0], 0), imageWidth);
      b[1] = Math.min(Math.max(b[1], 0), imageHeight);
      b[2] = Math.min(Math.max(b[2], 0), imageWidth);
      b[3] = Math.min(Math.max(b[3], 0), imageHeight);
      if (!(b[2] > b[0] && b[3] > b[1]) || !Number.isFinite(lg[i])) continue;
      scores[n++] = lg[i];
    }
    // NMS on the wasm backend's native kernel ([y1, x1, y2, x2] boxes).
    const yxyx = new Float32Array(n * 4);
    for (let j = 0; j < n; j++) {
      yxyx[4 * j] = boxes[4 * j + 1];
      yxyx[4 * j + 1] = boxes[4 * j];
      yxyx[4 * j + 2] = boxes[4 * j + 3];
      yxyx[4 * j + 3] = boxes[4 * j + 2];
    }
    const keep = n === 0 ? new Int32Array(0) : tf.tidy(() => tf.image.nonMaxSuppression(tf.tensor2d(yxyx, [n, 4]), tf.tensor1d(scores.subarray(0, n)), postNmsTopK, nmsThreshold).dataSync() as Int32Array);
    for (const j of keep) {
      keptBoxes.push(boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2], boxes[4 * j + 3]);
      keptScores.push(scores[j]);
    }
    offset += count;
  });
  const order = topK(Float32Array.from(keptScores), Math.min(postNmsTopK, keptScores.length));
  const boxes = new Float32Array(order.length * 4);
  const scores = new Float32Array(order.length);
  order.forEach((i, j) => {
    boxes.set(keptBoxes.slice(4 * i, 4 * i + 4), 4 * j);
    scores[j] = keptScores[i];
  });
  return { boxes, scores };
}

/** Indices of the k largest values, best first (ties: lower index first). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return idx.slice(0, k);
}
