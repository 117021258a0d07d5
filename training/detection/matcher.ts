import { seededRandom } from '../../core/random.ts';

/** IoU matrix [G x B] of xyxy boxes (flat arrays), as detectron2's pairwise_iou. */
export function pairwiseIoU(gt: ArrayLike<number>, boxes: ArrayLike<number>): Float32Array {
  const G = gt.length / 4, B = boxes.length / 4;
  const out = new Float32Array(G * B);
  for (let g = 0; g < G; g++) {
    const gx1 = gt[4 * g], gy1 = gt[4 * g + 1], gx2 = gt[4 * g + 2], gy2 = gt[4 * g + 3];
    const ga = (gx2 - gx1) * (gy2 - gy1);
    for (let b = 0; b < B; b++) {
      const w = Math.min(gx2, boxes[4 * b + 2]) - Math.max(gx1, boxes[4 * b]);
      if (w <= 0) continue;
      const h = Math.min(gy2, boxes[4 * b + 3]) - Math.max(gy1, boxes[4 * b + 1]);
      if (h <= 0) continue;
      const inter = w * h;
      out[g * B + b] = inter / (ga + (boxes[4 * b + 2] - boxes[4 * b]) * (boxes[4 * b + 3] - boxes[4 * b + 1]) - inter);
    }
  }
  return out;
}

export const IGNORE = -2;
export const BACKGROUND = -1;

/**
 * detectron2's Matcher: each box takes its best GT; IoU < low -> background (-1), between low and
 * high -> ignored (-2), >= high -> that GT. With `allowLowQuality`, every GT also claims the boxes
 * that overlap it best (ties included), so small GT objects always get an anchor.
 */
export function matchBoxes(iou: Float32Array, G: number, B: number, low: number, high: number, allowLowQuality: boolean): Int32Array {
  const match = new Int32Array(B).fill(BACKGROUND);
  if (G === 0) return match;
  const best = new Float32Array(B).fill(-1);
  for (let g = 0; g < G; g++) {
    for (let b = 0; b < B; b++) {
      const v = iou[g * B + b];
      if (v > best[b]) {
        best[b] = v;
        match[b] = g;
      }
    }
  }
  const assigned = Int32Array.from(match);
  for (let b = 0; b < B; b++) {
    if (best[b] < low) assigned[b] = BACKGROUND;
    else if (best[b] < high) assigned[b] = IGNORE;
  }
  if (allowLowQuality) {
    for (let g = 0; g < G; g++) {
      let top = 0;
      for (let b = 0; b < B; b++) top = Math.max(top, iou[g * B + b]);
      if (top <= 0) continue;
      for (let b = 0; b < B; b++) if (iou[g * B + b] === top) assigned[b] = match[b];
    }
  }
  return assigned;
}

/**
 * Sample up to `batch` entries with at most `positiveFraction` positives (matched >= 0), the rest
 * negatives (BACKGROUND); ignored entries are never sampled. Seeded partial Fisher-Yates.
 */
export function sampleMatches(match: Int32Array, batch: number, positiveFraction: number, seed: number): { positives: number[]; negatives: number[] } {
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < match.length; i++) {
    if (match[i] >= 0) pos.push(i);
    else if (match[i] === BACKGROUND) neg.push(i);
  }
  const rand = seededRandom(seed);
  const pick = (list: number[], k: number) => {
    for (let i = 0; i < Math.min(k, list.length); i++) {
      const j = i + Math.floor(rand() * (list.length - i));
      [list[i], list[j]] = [list[j], list[i]];
    }
    return list.slice(0, Math.min(k, list.length));
  };
  const positives = pick(pos, Math.floor(batch * positiveFraction));
  const negatives = pick(neg, batch - positives.length);
  return { positives, negatives };
}
