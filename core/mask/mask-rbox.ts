import { minAreaRect } from '../geometry/min-area-rect.ts';
import type { Point, RotatedBox } from '../geometry/types.ts';
import { type Rle, decodeRle } from './rle.ts';

/**
 * Rotated box of an instance mask: the minimum-area rectangle around the centres of its boundary
 * pixels (as OpenCV's minAreaRect on contour points), with w and h at least one pixel. Around pixel
 * centres rather than pixel squares because that recovers a rasterised rectangle best: mean IoU 0.984
 * with the true box on random rods, against 0.871 for pixel corners (measured, see the tests).
 */
export function maskMinAreaRect(mask: ArrayLike<number>, height: number, width: number): RotatedBox {
  const points: Point[] = [];
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (on(x, y) && !(on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1))) points.push([x + 0.5, y + 0.5]);
    }
  }
  if (points.length === 0) return [0, 0, 0, 0, 0];
  const [cx, cy, w, h, a] = minAreaRect(points);
  return [cx, cy, Math.max(w, 1), Math.max(h, 1), a];
}

export function rleMinAreaRect(rle: Rle): RotatedBox {
  return maskMinAreaRect(decodeRle(rle), rle.height, rle.width);
}
