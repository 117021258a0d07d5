import { EmsegError } from '../errors.ts';
import { BYTES_PER_PIXEL } from './limits.ts';
import type { PixelArray, PixelDType } from './types.ts';

/**
 * Small helpers the hand-written vendor readers share: turning raw pixel bytes into a fresh, aligned
 * typed array in the platform's byte order, optionally with the rows flipped, and the page checks.
 */

const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function typedArray(dtype: PixelDType, buffer: ArrayBuffer, count: number): PixelArray {
  switch (dtype) {
    case 'uint8': return new Uint8Array(buffer, 0, count);
    case 'int8': return new Int8Array(buffer, 0, count);
    case 'uint16': return new Uint16Array(buffer, 0, count);
    case 'int16': return new Int16Array(buffer, 0, count);
    case 'uint32': return new Uint32Array(buffer, 0, count);
    case 'int32': return new Int32Array(buffer, 0, count);
    case 'float32': return new Float32Array(buffer, 0, count);
    case 'float64': return new Float64Array(buffer, 0, count);
  }
}

/** A zero-filled typed array of `count` pixels of `dtype` (own buffer, offset 0). */
export function allocatePixels(dtype: PixelDType, count: number): PixelArray {
  return typedArray(dtype, new ArrayBuffer(count * BYTES_PER_PIXEL[dtype]), count);
}

/** Reverses the byte order of every `size`-byte element of `b` in place. */
function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

export interface PixelBlock {
  /** Byte offset of the first stored pixel in `bytes`. */
  offset: number;
  width: number;
  height: number;
  dtype: PixelDType;
  littleEndian: boolean;
  /** Stored rows are bottom-up: reverse them so row 0 is the top row as displayed. */
  flipRows?: boolean;
}

/**
 * Copies width x height pixels of `dtype` starting at `offset` into a new typed array (own buffer,
 * offset 0, so always aligned), converting to the platform byte order. Callers must have checked that
 * the block lies inside `bytes`; this re-checks and throws EMSEG_FORMAT_TRUNCATED naming `name`.
 */
export function copyPixels(bytes: Uint8Array, block: PixelBlock, name: string): PixelArray {
  const { offset, width, height, dtype } = block;
  const bpp = BYTES_PER_PIXEL[dtype];
  const rowBytes = width * bpp;
  const total = rowBytes * height;
  if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + total <= bytes.byteLength)) {
    throw new EmsegError(
      'EMSEG_FORMAT_TRUNCATED',
      `${name}: file ends before the pixel data (needs ${total} bytes at offset ${offset}, file has ${bytes.byteLength})`,
      { file: name },
    );
  }
  const out = new Uint8Array(total);
  if (block.flipRows) {
    for (let y = 0; y < height; y++) {
      const src = offset + (height - 1 - y) * rowBytes;
      out.set(bytes.subarray(src, src + rowBytes), y * rowBytes);
    }
  } else {
    out.set(bytes.subarray(offset, offset + total));
  }
  if (block.littleEndian !== PLATFORM_LITTLE_ENDIAN) swapBytes(out, bpp);
  return typedArray(dtype, out.buffer, width * height);
}

/** IEEE 754 half-precision bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Copies width x height float16 pixels at `offset` into a new Float32Array. */
export function copyHalfPixels(bytes: Uint8Array, offset: number, width: number, height: number, littleEndian: boolean, name: string): Float32Array {
  const count = width * height;
  if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + 2 * count <= bytes.byteLength)) {
    throw new EmsegError(
      'EMSEG_FORMAT_TRUNCATED',
      `${name}: file ends before the pixel data (needs ${2 * count} bytes at offset ${offset}, file has ${bytes.byteLength})`,
      { file: name },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, littleEndian));
  return out;
}

/**
 * Resolves `options.page` against `pages` available: default 0; anything but an integer in
 * [0, pages) throws EMSEG_INVALID_ARGUMENT naming the file and how many pages it holds.
 */
export function pickPage(page: number | undefined, pages: number, name: string): number {
  const p = page ?? 0;
  if (!Number.isSafeInteger(p) || p < 0 || p >= pages) {
    const range = pages === 0 ? 'none to pick' : pages === 1 ? 'page 0 only' : `pages 0-${pages - 1}`;
    throw new EmsegError(
      'EMSEG_INVALID_ARGUMENT',
      `${name}: page ${String(p)} requested, but the file holds ${pages} image${pages === 1 ? '' : 's'} (${range})`,
      { file: name },
    );
  }
  return p;
}

/** Latin-1 decoding of a byte range (header text, tag names), in chunks to bound argument counts. */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 8192)));
  }
  return s;
}
