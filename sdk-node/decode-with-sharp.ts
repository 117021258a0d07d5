import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { EmsegError } from '../core/errors.ts';
import { MAX_PIXELS, checkImageSize } from '../core/formats/limits.ts';
import type { EmImage, PixelDType } from '../core/formats/types.ts';

/**
 * Decode PNG, JPEG and (compressed) TIFF pixels with sharp/libvips as one grey channel, keeping the
 * bit depth: 16-bit stays 16-bit (`grey16`, ushort), float TIFF stays float. Colour images are
 * converted to luminance (EM figures are often saved as grey-looking RGB). sharp's own errors become
 * EmsegErrors naming the file.
 */
export async function decodeWithSharp(bytes: Uint8Array, name: string, format: string, page = 0): Promise<EmImage> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS, page }).metadata();
  } catch (e) {
    throw sharpError(e, name);
  }
  checkImageSize(meta.width ?? 0, meta.height ?? 0, name);
  if (format === 'PNG') checkPngFits(meta.width ?? 0, meta.height ?? 0, bytes.length, name);
  const pages = meta.pages ?? 1;
  if (!Number.isInteger(page) || page < 0 || page >= pages) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: page ${page} does not exist (the file has ${pages} page${pages === 1 ? '' : 's'})`, { file: name });
  }
  const depth = meta.depth ?? 'uchar';
  let dtype: PixelDType;
  let pipeline = sharp(bytes, { limitInputPixels: MAX_PIXELS, page, failOn: 'truncated' });
  if (depth === 'ushort' || depth === 'short') {
    dtype = 'uint16';
    pipeline = pipeline.toColourspace('grey16').raw({ depth: 'ushort' });
  } else if (depth === 'float' || depth === 'double') {
    dtype = 'float32';
    pipeline = pipeline.toColourspace('b-w').raw({ depth: 'float' });
  } else if (depth === 'uchar' || depth === 'char') {
    dtype = 'uint8';
    pipeline = pipeline.toColourspace('b-w').raw({ depth: 'uchar' });
  } else {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${format} pixel depth "${depth}" is not supported`, { file: name });
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw sharpError(e, name);
  }
  const { data, info } = out;
  if (info.channels !== 1) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: expected one grey channel after conversion, got ${info.channels}`, { file: name });
  }
  // Copy into a fresh, aligned typed array of the right element type.
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  const pixels =
    dtype === 'uint16' ? new Uint16Array(copy.buffer) :
    dtype === 'float32' ? new Float32Array(copy.buffer) :
    copy;
  return {
    format,
    width: info.width,
    height: info.height,
    dtype,
    data: pixels,
    pixelSize: null,
    metadata: { pages, page, channelsInFile: meta.channels, space: meta.space },
  };
}

/** Deflate (PNG's compression) never shrinks data by more than 1032:1 (258-byte matches coded in 2 bits). */
const DEFLATE_MAX_RATIO = 1032;

/**
 * A PNG's pixels, at their least (1 bit per pixel plus a filter byte per row), must fit in its
 * compressed bytes: otherwise the file is cut short, refused before libvips allocates and walks
 * rows it cannot have (found by test/fuzz: a 4.5 kB PNG declaring 500 million pixels took 4 s).
 */
function checkPngFits(width: number, height: number, size: number, name: string): void {
  const leastBytes = height * (Math.ceil(width / 8) + 1);
  if (leastBytes > DEFLATE_MAX_RATIO * size) {
    throw new EmsegError(
      'EMSEG_FORMAT_TRUNCATED',
      `${name}: PNG header declares ${width} x ${height} pixels (at least ${leastBytes} bytes uncompressed), which ${size} bytes of compressed data cannot hold`,
      { file: name },
    );
  }
}

function sharpError(e: unknown, name: string): EmsegError {
  const message = e instanceof Error ? e.message : String(e);
  const truncated = /premature|truncat|end of (file|stream)|short read|unexpected end/i.test(message);
  return new EmsegError(
    truncated ? 'EMSEG_FORMAT_TRUNCATED' : 'EMSEG_FORMAT_BAD_HEADER',
    `${name}: cannot decode image: ${message.replace(/\s+/g, ' ').trim()}`,
    { file: name, cause: e },
  );
}
