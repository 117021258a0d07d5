import { EmsegError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import { gaussianBlur, gaussianSource } from '../../core/synth/noise.ts';
import { type AffineWarp, type WarpOptions, drawWarp, warpImage, warpRboxes } from './affine.ts';

/**
 * Geometry-aware augmentation for small EM datasets: the 8 symmetries of the square (flips and 90-degree
 * rotations: EM images have no preferred orientation), then a free rotation + scale jitter + crop
 * warp (training/data/affine.ts), applied to the image and its rotated boxes or masks alike, then
 * intensity changes (brightness, contrast, gamma, Gaussian noise, blur). Images are normalised float32
 * in [0, 1], row-major. Seeded: the same seed gives the same augmentation.
 */
export interface AugmentOptions {
  /** Apply the dihedral symmetries (default true). */
  geometric: boolean;
  /** Scale of the intensity changes, 0 = none (default 1). */
  strength: number;
  /** Free rotation, scale jitter and crop; absent = none (runs configured before it existed). */
  warp?: WarpOptions;
}

/**
 * Defaults for fewer than 20 images: every symmetry, any rotation angle and +-25 % scale on half of
 * the images (the other half keeps the exact pixel grid the model sees at inference).
 */
export const DEFAULT_AUGMENT: AugmentOptions = { geometric: true, strength: 1, warp: { rotate: 180, scale: 0.25, probability: 0.5 } };

/** Augmentation settings from user JSON (a config file's "augment"), every field checked; missing fields take the defaults, `"warp": null` turns warping off. */
export function parseAugmentOptions(value: unknown, where: string): AugmentOptions {
  const o = (value ?? {}) as Record<string, unknown>;
  const bad = (field: string, want: string, got: unknown): never => {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${where}: augment.${field} must be ${want}, received ${JSON.stringify(got)}`);
  };
  const num = (v: unknown, field: string, hi: number, fallback: number): number => {
    if (v === undefined) return fallback;
    return typeof v === 'number' && v >= 0 && v <= hi ? v : bad(field, `a number in [0, ${hi}]`, v);
  };
  if (typeof o !== 'object' || Array.isArray(o)) bad('', 'an object', value);
  if (o.geometric !== undefined && typeof o.geometric !== 'boolean') bad('geometric', 'true or false', o.geometric);
  const d = DEFAULT_AUGMENT.warp!;
  const w = o.warp === undefined ? d : o.warp === null ? { rotate: 0, scale: 0, probability: 0 } : (o.warp as Record<string, unknown>);
  if (typeof w !== 'object' || Array.isArray(w)) bad('warp', 'an object or null', o.warp);
  return {
    geometric: (o.geometric as boolean | undefined) ?? DEFAULT_AUGMENT.geometric,
    strength: num(o.strength, 'strength', 5, DEFAULT_AUGMENT.strength),
    warp: { rotate: num(w.rotate, 'warp.rotate', 180, d.rotate), scale: num(w.scale, 'warp.scale', 2, d.scale), probability: num(w.probability, 'warp.probability', 1, d.probability) },
  };
}

export interface Augmented {
  data: Float32Array;
  width: number;
  height: number;
  rboxes: Float32Array;
  /** Input index of each output box (objects whose centre leaves the canvas are dropped). */
  kept: number[];
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

/**
 * The image after the geometric steps, in a buffer the intensity steps may overwrite: the warp's new
 * image, else the dihedral result, copied when that is the caller's `input` itself.
 */
export function geometricImage(input: Float32Array, moved: Float32Array, warp: AffineWarp | null): Float32Array {
  if (warp) return warpImage(moved, warp);
  return moved === input ? new Float32Array(input) : moved;
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
  const warp = o.warp ? drawWarp(rand, moved.width, moved.height, o.warp) : null;
  const img = geometricImage(data, moved.data, warp);
  const { rboxes: out, kept } = warp ? warpRboxes(boxes, warp) : { rboxes: boxes, kept: Array.from({ length: boxes.length / 5 }, (_, i) => i) };
  intensityAugment(img, moved.width, moved.height, rand, o.strength);
  return { data: img, width: moved.width, height: moved.height, rboxes: out, kept };
}

/** Zero-pad to multiples of `divisor` (FPN needs sizes divisible by 32), bottom and right. */
export function padTo(data: Float32Array, width: number, height: number, divisor = 32): { data: Float32Array; width: number; height: number } {
  const W = Math.ceil(width / divisor) * divisor, H = Math.ceil(height / divisor) * divisor;
  if (W === width && H === height) return { data, width, height };
  const out = new Float32Array(W * H);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * width, (y + 1) * width), y * W);
  return { data: out, width: W, height: H };
}
