import { seededRandom } from '../../core/random.ts';
import { gaussianBlur, gaussianSource } from '../../core/synth/noise.ts';

/**
 * Geometry-aware augmentation for small EM datasets: the 8 symmetries of the square (flips and 90-degree
 * rotations: EM images have no preferred orientation) applied to the image and its rotated boxes
 * alike, then intensity changes (brightness, contrast, gamma, Gaussian noise, blur). Images are
 * normalised float32 in [0, 1], row-major. Seeded: the same seed gives the same augmentation.
 */
export interface AugmentOptions {
  /** Apply the dihedral symmetries (default true). */
  geometric: boolean;
  /** Scale of the intensity changes, 0 = none (default 1). */
  strength: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { geometric: true, strength: 1 };

export interface Augmented {
  data: Float32Array;
  width: number;
  height: number;
  rboxes: Float32Array;
}

/**
 * Rotated box under the image transform: transpose (x <-> y) when `transpose`, then flips of x and y.
 * In XYWHA (angle counter-clockwise as displayed), a flip of one axis negates the angle and a
 * transpose maps angle a to -(a + 90) modulo 180 (with w, h kept).
 */
function transformRbox(r: Float32Array, o: number, W: number, H: number, transpose: boolean, flipX: boolean, flipY: boolean): void {
  let cx = r[o], cy = r[o + 1], a = r[o + 4];
  let w = W, h = H;
  if (transpose) {
    [cx, cy] = [cy, cx];
    [w, h] = [h, w];
    a = -(a + 90);
  }
  if (flipX) {
    cx = w - cx;
    a = -a;
  }
  if (flipY) {
    cy = h - cy;
    a = -a;
  }
  a = ((((a + 90) % 180) + 180) % 180) - 90; // into [-90, 90)
  r[o] = cx;
  r[o + 1] = cy;
  r[o + 4] = a;
}

/** One of the 8 symmetries of the square: transpose x/y, then flip x and/or y. */
export interface Dihedral {
  transpose: boolean;
  flipX: boolean;
  flipY: boolean;
}

/** Apply a dihedral transform to a row-major image (any element type). */
export function transformImage<T extends Float32Array | Uint8Array>(img: T, W: number, H: number, t: Dihedral): { data: T; width: number; height: number } {
  if (!t.transpose && !t.flipX && !t.flipY) return { data: img, width: W, height: H };
  const outW = t.transpose ? H : W, outH = t.transpose ? W : H;
  const out = new (img.constructor as new (n: number) => T)(W * H);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const xs = t.flipX ? outW - 1 - x : x, ys = t.flipY ? outH - 1 - y : y;
      const [sx, sy] = t.transpose ? [ys, xs] : [xs, ys];
      out[y * outW + x] = img[sy * W + sx];
    }
  }
  return { data: out, width: outW, height: outH };
}

/** Axis-aligned xyxy boxes (flat) under the transform of a W x H image. */
export function transformBoxes(boxes: Float32Array, W: number, H: number, t: Dihedral): Float32Array {
  const out = Float32Array.from(boxes);
  for (let i = 0; i < out.length; i += 4) {
    let [x1, y1, x2, y2] = [out[i], out[i + 1], out[i + 2], out[i + 3]];
    let w = W, h = H;
    if (t.transpose) {
      [x1, y1, x2, y2] = [y1, x1, y2, x2];
      [w, h] = [h, w];
    }
    if (t.flipX) [x1, x2] = [w - x2, w - x1];
    if (t.flipY) [y1, y2] = [h - y2, h - y1];
    out.set([x1, y1, x2, y2], i);
  }
  return out;
}

/** Brightness, contrast, gamma, noise and blur, in place on a [0, 1] image (scaled by `strength`). */
export function intensityAugment(img: Float32Array, W: number, H: number, rand: () => number, strength: number): void {
  if (strength <= 0) return;
  const gauss = gaussianSource(rand);
  const s = strength;
  const contrast = 1 + (rand() - 0.5) * 0.4 * s;
  const brightness = (rand() - 0.5) * 0.2 * s;
  const gamma = Math.exp((rand() - 0.5) * 0.4 * s);
  const noise = rand() * 0.03 * s;
  const blur = rand() < 0.3 * s ? 0.5 + rand() : 0;
  for (let i = 0; i < img.length; i++) {
    const v = Math.min(Math.max((img[i] - 0.5) * contrast + 0.5 + brightness, 0), 1);
    img[i] = v ** gamma + noise * gauss();
  }
  if (blur > 0) {
    const f = Float64Array.from(img);
    gaussianBlur(f, W, H, blur);
    img.set(f);
  }
}

export function drawDihedral(rand: () => number, geometric: boolean): Dihedral {
  if (!geometric) return { transpose: false, flipX: false, flipY: false };
  return { transpose: rand() < 0.5, flipX: rand() < 0.5, flipY: rand() < 0.5 };
}

export function augment(data: Float32Array, width: number, height: number, rboxes: Float32Array, seed: number, o: AugmentOptions = DEFAULT_AUGMENT): Augmented {
  const rand = seededRandom(seed);
  const t = drawDihedral(rand, o.geometric);
  const moved = transformImage(data, width, height, t);
  const boxes = Float32Array.from(rboxes);
  for (let i = 0; i < boxes.length; i += 5) transformRbox(boxes, i, width, height, t.transpose, t.flipX, t.flipY);
  const img = moved.data === data ? new Float32Array(data) : moved.data;
  intensityAugment(img, moved.width, moved.height, rand, o.strength);
  return { data: img, width: moved.width, height: moved.height, rboxes: boxes };
}

/** Zero-pad to multiples of `divisor` (FPN needs sizes divisible by 32), bottom and right. */
export function padTo(data: Float32Array, width: number, height: number, divisor = 32): { data: Float32Array; width: number; height: number } {
  const W = Math.ceil(width / divisor) * divisor, H = Math.ceil(height / divisor) * divisor;
  if (W === width && H === height) return { data, width, height };
  const out = new Float32Array(W * H);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * width, (y + 1) * width), y * W);
  return { data: out, width: W, height: H };
}
