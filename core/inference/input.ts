import { invalidArgument } from '../errors.ts';

/**
 * Model inputs from a normalised image (float32, row-major): zero padding at the bottom and right
 * to a multiple of the model's divisor (as training pads, so group norm sees the same statistics),
 * crops for tiles, and bilinear resampling to the model's pixel size. Written by hand: three small
 * loops that both SDKs need without a native image library.
 */
export interface ModelInput {
  data: Float32Array;
  /** Valid size (before padding). */
  width: number;
  height: number;
  paddedWidth: number;
  paddedHeight: number;
}

export const roundUp = (v: number, divisor: number): number => Math.ceil(v / divisor) * divisor;

/** The rectangle [x, x + width) x [y, y + height) of `src` (srcWidth wide), zero-padded to the divisor. */
export function cropPadded(src: Float32Array, srcWidth: number, x: number, y: number, width: number, height: number, divisor: number): ModelInput {
  const paddedWidth = roundUp(width, divisor), paddedHeight = roundUp(height, divisor);
  const data = new Float32Array(paddedWidth * paddedHeight);
  for (let r = 0; r < height; r++) data.set(src.subarray((y + r) * srcWidth + x, (y + r) * srcWidth + x + width), r * paddedWidth);
  return { data, width, height, paddedWidth, paddedHeight };
}

/**
 * Bilinear resampling (pixel centres aligned: OpenCV's INTER_LINEAR / half-pixel convention) of a
 * float image to `outWidth` x `outHeight`. Downsampling by more than 2x averages too little (as
 * OpenCV's INTER_LINEAR); EM pixel sizes differ from a model's by small factors.
 */
export function resampleBilinear(src: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  if (!(Number.isInteger(outWidth) && outWidth > 0 && Number.isInteger(outHeight) && outHeight > 0)) throw invalidArgument('resampled size', 'positive integers', [outWidth, outHeight]);
  const out = new Float32Array(outWidth * outHeight);
  const sx = width / outWidth, sy = height / outHeight;
  for (let j = 0; j < outHeight; j++) {
    const fy = Math.min(Math.max((j + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, height - 1), wy = fy - y0;
    for (let i = 0; i < outWidth; i++) {
      const fx = Math.min(Math.max((i + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, width - 1), wx = fx - x0;
      const top = src[y0 * width + x0] * (1 - wx) + src[y0 * width + x1] * wx;
      const bottom = src[y1 * width + x0] * (1 - wx) + src[y1 * width + x1] * wx;
      out[j * outWidth + i] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}
