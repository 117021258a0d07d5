import { encodeMaskInBox } from '../mask/rle.ts';
import type { Rle } from '../mask/rle.ts';

/**
 * A shape rasterised in its bounding box: `mask` by pixel-centre test (the exact ground truth) and
 * `profile`, the shape's contribution to the image at each pixel (contrast, thickness...), which may
 * extend beyond the mask (e.g. a membrane rim or a blur halo).
 */
export interface Stamp {
  x0: number;
  y0: number;
  w: number;
  h: number;
  mask: Uint8Array;
  profile: Float64Array;
}

/**
 * Rasterise a shape described by `field(x, y)` -> { inside, value } over the box around (cx, cy) of
 * half-size `reach`, clipped to the image. Pixel (x, y) is sampled at its centre (x + 0.5, y + 0.5).
 */
export function rasterise(
  cx: number,
  cy: number,
  reach: number,
  width: number,
  height: number,
  field: (dx: number, dy: number) => { inside: boolean; value: number },
): Stamp | null {
  const x0 = Math.max(0, Math.floor(cx - reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const x1 = Math.min(width, Math.ceil(cx + reach));
  const y1 = Math.min(height, Math.ceil(cy + reach));
  if (x1 <= x0 || y1 <= y0) return null;
  const w = x1 - x0, h = y1 - y0;
  const mask = new Uint8Array(w * h);
  const profile = new Float64Array(w * h);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const f = field(x0 + i + 0.5 - cx, y0 + j + 0.5 - cy);
      mask[j * w + i] = f.inside ? 1 : 0;
      profile[j * w + i] = f.value;
    }
  }
  return { x0, y0, w, h, mask, profile };
}

export function stampArea(s: Stamp): number {
  let a = 0;
  for (let i = 0; i < s.mask.length; i++) a += s.mask[i];
  return a;
}

/** True when the stamp's mask touches any pixel already set in `occupied` (row-major, image size). */
export function overlaps(s: Stamp, occupied: Uint8Array, width: number): boolean {
  for (let j = 0; j < s.h; j++) {
    for (let i = 0; i < s.w; i++) if (s.mask[j * s.w + i] && occupied[(s.y0 + j) * width + s.x0 + i]) return true;
  }
  return false;
}

export function occupy(s: Stamp, occupied: Uint8Array, width: number): void {
  for (let j = 0; j < s.h; j++) {
    for (let i = 0; i < s.w; i++) if (s.mask[j * s.w + i]) occupied[(s.y0 + j) * width + s.x0 + i] = 1;
  }
}

/** Add `scale * profile` into a float image. */
export function addProfile(s: Stamp, img: Float64Array, width: number, scale = 1): void {
  for (let j = 0; j < s.h; j++) {
    for (let i = 0; i < s.w; i++) img[(s.y0 + j) * width + s.x0 + i] += scale * s.profile[j * s.w + i];
  }
}

export function stampRle(s: Stamp, width: number, height: number): Rle {
  return encodeMaskInBox(s.mask, s.x0, s.y0, s.w, s.h, height, width);
}
