import type { BoxXYXY } from '../geometry/types.ts';
import { type Rle, encodeMaskInBox } from './rle.ts';

/** A binary mask over the pixel rectangle [x, x + width) x [y, y + height) of an image. */
export interface LocalMask {
  mask: Uint8Array;
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Rasterise one M x M mask probability map (a detection's 28 x 28 output) over its box in an image
 * of `imageWidth` x `imageHeight`: each pixel centre inside the box samples the map bilinearly
 * (edge-clamped) and is foreground when the probability is >= `threshold` (0.5). `at(u, v)` reads
 * the map at column u, row v, so callers pass any layout (tfjs [N, M, M, K], ONNX [N, K, M, M])
 * without copying. The same function serves the tfjs reference and both SDKs, so their masks agree.
 */
export function rasterizeMask(at: (u: number, v: number) => number, M: number, box: BoxXYXY, imageWidth: number, imageHeight: number, threshold = 0.5): LocalMask {
  const [x1, y1, x2, y2] = box;
  // Pixels visited: [xs, bx1) x [ys, by1) (empty for a box past the edge); the local mask starts at
  // (bx0, by0), kept inside the image so that an empty mask still encodes.
  const xs = Math.max(0, Math.floor(x1)), ys = Math.max(0, Math.floor(y1));
  const bx1 = Math.min(imageWidth, Math.ceil(x2)), by1 = Math.min(imageHeight, Math.ceil(y2));
  const bx0 = Math.min(xs, imageWidth - 1), by0 = Math.min(ys, imageHeight - 1);
  const bw = Math.max(bx1 - bx0, 1), bh = Math.max(by1 - by0, 1);
  const local = new Uint8Array(bw * bh);
  for (let y = ys; y < by1; y++) {
    const v = Math.min(Math.max(((y + 0.5 - y1) / (y2 - y1)) * M - 0.5, 0), M - 1);
    const v0 = Math.floor(v), v1 = Math.min(v0 + 1, M - 1), fv = v - v0;
    for (let x = xs; x < bx1; x++) {
      const u = Math.min(Math.max(((x + 0.5 - x1) / (x2 - x1)) * M - 0.5, 0), M - 1);
      const u0 = Math.floor(u), u1 = Math.min(u0 + 1, M - 1), fu = u - u0;
      const p = (1 - fv) * ((1 - fu) * at(u0, v0) + fu * at(u1, v0)) + fv * ((1 - fu) * at(u0, v1) + fu * at(u1, v1));
      if (p >= threshold) local[(y - by0) * bw + (x - bx0)] = 1;
    }
  }
  return { mask: local, x: bx0, y: by0, width: bw, height: bh };
}

/** `rasterizeMask` encoded as an RLE of the whole image. */
export function pasteMask(at: (u: number, v: number) => number, M: number, box: BoxXYXY, width: number, height: number, threshold = 0.5): Rle {
  const m = rasterizeMask(at, M, box, width, height, threshold);
  return encodeMaskInBox(m.mask, m.x, m.y, m.width, m.height, height, width);
}
