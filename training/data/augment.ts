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

export function augment(data: Float32Array, width: number, height: number, rboxes: Float32Array, seed: number, o: AugmentOptions = DEFAULT_AUGMENT): Augmented {
  const rand = seededRandom(seed);
  const gauss = gaussianSource(rand);
  let W = width, H = height;
  let img = data;
  const boxes = Float32Array.from(rboxes);
  if (o.geometric) {
    const transpose = rand() < 0.5, flipX = rand() < 0.5, flipY = rand() < 0.5;
    if (transpose || flipX || flipY) {
      const outW = transpose ? H : W, outH = transpose ? W : H;
      const out = new Float32Array(W * H);
      for (let y = 0; y < outH; y++) {
        for (let x = 0; x < outW; x++) {
          const xs = flipX ? outW - 1 - x : x, ys = flipY ? outH - 1 - y : y;
          const [sx, sy] = transpose ? [ys, xs] : [xs, ys];
          out[y * outW + x] = img[sy * W + sx];
        }
      }
      for (let i = 0; i < boxes.length; i += 5) transformRbox(boxes, i, W, H, transpose, flipX, flipY);
      img = out;
      W = outW;
      H = outH;
    }
  }
  if (o.strength > 0) {
    const s = o.strength;
    const contrast = 1 + (rand() - 0.5) * 0.4 * s;
    const brightness = (rand() - 0.5) * 0.2 * s;
    const gamma = Math.exp((rand() - 0.5) * 0.4 * s);
    const noise = rand() * 0.03 * s;
    const blur = rand() < 0.3 * s ? 0.5 + rand() : 0;
    const out = img === data ? new Float32Array(img) : img;
    for (let i = 0; i < out.length; i++) {
      const v = Math.min(Math.max((out[i] - 0.5) * contrast + 0.5 + brightness, 0), 1);
      out[i] = v ** gamma + noise * gauss();
    }
    if (blur > 0) {
      const f = Float64Array.from(out);
      gaussianBlur(f, W, H, blur);
      out.set(f);
    }
    img = out;
  }
  return { data: img, width: W, height: H, rboxes: boxes };
}

/** Zero-pad to multiples of `divisor` (FPN needs sizes divisible by 32), bottom and right. */
export function padTo(data: Float32Array, width: number, height: number, divisor = 32): { data: Float32Array; width: number; height: number } {
  const W = Math.ceil(width / divisor) * divisor, H = Math.ceil(height / divisor) * divisor;
  if (W === width && H === height) return { data, width, height };
  const out = new Float32Array(W * H);
  for (let y = 0; y < height; y++) out.set(data.subarray(y * width, (y + 1) * width), y * W);
  return { data: out, width: W, height: H };
}
