import { invalidArgument } from '../errors.ts';
import { canonicalRotatedBox } from '../geometry/rotated-box.ts';
import { gaussianBlur, gaussianSource, poisson, smoothTexture, toUint16 } from './noise.ts';
import { addProfile, rasterise, stampArea, stampRle } from './stamp.ts';
import type { CategorySpec, CountRange, SynthImage, SynthObject } from './types.ts';
import { drawCount } from './tem-vesicles.ts';

/**
 * Synthetic HAADF-STEM of gold nanorods: spherocylinders (aspect 3 to 8, any orientation) in
 * clusters where they overlap heavily. HAADF intensity is proportional to projected thickness, so
 * overlaps add up (Z-contrast). Image formation: probe blur, scan-line jitter (each row shifted by a
 * random sub-pixel amount), Poisson shot noise and Gaussian detector noise. Each rod's mask is its own
 * full silhouette (masks overlap where rods do) and its `rbox` is the exact rotated rectangle.
 * Sizes are for a 512-px field of view of 512 nm (1 nm/px; rods 9 to 18 nm wide) and scale with `size`.
 */

export const HAADF_CATEGORIES: readonly CategorySpec[] = [{ id: 1, name: 'nanorod' }];

export interface HaadfRodOptions {
  size: number;
  /** Rods per image (default 24 to 36). */
  count?: CountRange;
  /** Length / width (default 3 to 8). */
  aspect?: readonly [number, number];
}

const FIELD_OF_VIEW_NM = 512;

export function generateHaadfNanorods(rand: () => number, options: HaadfRodOptions): SynthImage {
  const { size } = options;
  if (!Number.isInteger(size) || size < 64 || size > 8192) throw invalidArgument('size', 'an integer from 64 to 8192', size);
  const count = options.count ?? [24, 36];
  const aspect = options.aspect ?? [3, 8];
  if (!(aspect[0] >= 1 && aspect[1] >= aspect[0])) throw invalidArgument('aspect', '[min, max] with 1 <= min <= max', aspect);
  const gauss = gaussianSource(rand);
  const scale = size / 512;
  const n = size * size;
  const thickness = new Float64Array(n);
  const objects: SynthObject[] = [];
  const clusters = Array.from({ length: 2 + Math.floor(rand() * 3) }, () => [
    size * (0.2 + 0.6 * rand()),
    size * (0.2 + 0.6 * rand()),
  ]);
  const want = drawCount(rand, count);
  for (let attempt = 0; objects.length < want && attempt < want * 50; attempt++) {
    const width = (9 + 9 * rand()) * scale;
    const length = width * (aspect[0] + (aspect[1] - aspect[0]) * rand());
    const [ccx, ccy] = clusters[Math.floor(rand() * clusters.length)];
    const cx = ccx + gauss() * 55 * scale;
    const cy = ccy + gauss() * 55 * scale;
    const angle = rand() * 360 - 180;
    const t = (angle * Math.PI) / 180;
    const c = Math.cos(t), s = Math.sin(t);
    // Keep every rod inside the frame so its rotated box is fully visible.
    const ex = (length * Math.abs(c) + width * Math.abs(s)) / 2 + 2;
    const ey = (length * Math.abs(s) + width * Math.abs(c)) / 2 + 2;
    if (cx - ex < 0 || cy - ey < 0 || cx + ex > size || cy + ey > size) continue;
    const r = width / 2;
    const a = length / 2 - r; // half-length of the axis segment between the cap centres
    const stamp = rasterise(cx, cy, Math.max(ex, ey), size, size, (dx, dy) => {
      // Local frame of the XYWHA convention: x = cx + u c + v s, y = cy - u s + v c.
      const u = dx * c - dy * s;
      const v = dx * s + dy * c;
      const du = Math.max(Math.abs(u) - a, 0);
      const d2 = du * du + v * v;
      return { inside: d2 <= r * r, value: d2 < r * r ? 2 * Math.sqrt(r * r - d2) : 0 };
    });
    if (!stamp || stampArea(stamp) < 8) continue;
    addProfile(stamp, thickness, size);
    objects.push({ categoryId: 1, rle: stampRle(stamp, size, size), rbox: canonicalRotatedBox([cx, cy, length, width, angle]) });
  }
  const carbon = smoothTexture(size, size, 2 * scale, gauss);
  const img = new Float64Array(n);
  const perPixelThickness = 1 / (14 * scale); // a 14 px (at 512) thick rod gives intensity ~1
  for (let i = 0; i < n; i++) img[i] = 0.06 + 0.015 * carbon[i] + thickness[i] * perPixelThickness;
  gaussianBlur(img, size, size, (0.7 + 0.6 * rand()) * Math.max(scale, 0.5));
  scanJitter(img, size, size, 0.35, gauss);
  const dose = 120 + 180 * rand();
  const gain = 50;
  for (let i = 0; i < n; i++) {
    img[i] = 200 + gain * (poisson(Math.max(img[i], 0) * dose, rand, gauss) + 2 * gauss());
  }
  return { width: size, height: size, pixelSizeNm: FIELD_OF_VIEW_NM / size, data: toUint16(img), objects };
}

/** Shift each scan row by a random sub-pixel amount (linear interpolation), as STEM scan noise does. */
function scanJitter(img: Float64Array, width: number, height: number, sigma: number, gauss: () => number): void {
  const row = new Float64Array(width);
  let drift = 0;
  for (let y = 0; y < height; y++) {
    drift = 0.9 * drift + 0.1 * gauss() * sigma * 3;
    const shift = drift + gauss() * sigma;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(x - shift, 0), width - 1);
      const x0 = Math.floor(sx);
      const f = sx - x0;
      const x1 = Math.min(x0 + 1, width - 1);
      row[x] = (1 - f) * img[y * width + x0] + f * img[y * width + x1];
    }
    img.set(row, y * width);
  }
}
