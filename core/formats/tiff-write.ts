import { EmsegError, invalidArgument } from '../errors.ts';
import { BYTES_PER_PIXEL, checkImageSize } from './limits.ts';

/**
 * Minimal baseline TIFF writer for single-channel uint8 / uint16 / float32 images (emseg's synthetic
 * EM images). Little-endian, uncompressed, one IFD, strips of at most 16 MiB, and byte-deterministic:
 * no date, no software version, no padding that depends on anything but the input.
 *
 * Calibration is written the ImageJ way, which Fiji and emseg's own reader (`tiff.ts`) both read:
 * ImageDescription `ImageJ=1.54f\nunit=nm\n`, XResolution/YResolution = pixels per nm as RATIONALs,
 * ResolutionUnit 1 (none; the unit lives in the description). The rationals are the best
 * approximations with 32-bit terms, so the pixel size reads back to far better than 1e-9 relative.
 *
 * File layout: header (8 bytes), IFD, out-of-line tag values, pixel data (aligned to 16 bytes).
 */

export interface TiffWriteImage {
  width: number;
  height: number;
  dtype: 'uint8' | 'uint16' | 'float32';
  data: Uint8Array | Uint16Array | Float32Array;
  /** nm per pixel; null or absent writes an uncalibrated image. */
  pixelSize?: { x: number; y: number } | null;
}

export interface TiffWriteOptions {
  /**
   * Free text appended to the ImageDescription after the ImageJ lines (ImageJ ignores lines it does
   * not know). It may not contain NUL, nor lines that set an ImageJ key (`unit=`, `images=`, ...).
   */
  description?: string;
}

/** ImageJ version string written; fixed so the output is deterministic. */
const IMAGEJ_VERSION = '1.54f';
const MAX_STRIP_BYTES = 1 << 24;
const U32_MAX = 0xffffffff;

/** Keys ImageJ's description parser acts on; a user description must not set them. */
const IMAGEJ_KEYS = new Set([
  'imagej', 'unit', 'yunit', 'zunit', 'vunit', 'cf', 'c0', 'c1', 'images', 'channels', 'slices', 'frames',
  'hyperstack', 'mode', 'loop', 'min', 'max', 'spacing', 'finterval', 'fps', 'xorigin', 'yorigin', 'zorigin',
  'info', 'properties', 'labels', 'ranges', 'luts',
]);

/**
 * Best rational approximation p/q of `x` with 1 <= p, q <= 2^32 - 1, from the continued-fraction
 * convergents (each is the best approximation for its denominator size) and, where the next one
 * would overflow, the largest semiconvergent that fits. Picks the candidate with the smallest actual
 * error, so rounding in the expansion cannot hurt. Relative error is about 1e-15 for EM pixel sizes
 * (1e-3 .. 1e4 nm) and at worst ~x / 2^33 (1e-10 at x = 1e9).
 */
export function bestRational(x: number): [number, number] {
  if (!(Number.isFinite(x) && x > 0)) throw invalidArgument('x', 'a positive finite number', x);
  let best: [number, number] = [Math.max(1, Math.min(U32_MAX, Math.round(x))), 1];
  let bestErr = Math.abs(best[0] / best[1] - x);
  let [h1, h0] = [1, 0]; // numerators h_{k-1}, h_{k-2}
  let [k1, k0] = [0, 1]; // denominators
  let rest = x;
  for (let i = 0; i < 64 && bestErr > 0; i++) {
    const a = Math.floor(rest);
    const h = a * h1 + h0;
    const k = a * k1 + k0;
    if (h > U32_MAX || k > U32_MAX) {
      // The next convergent is too large: try the largest semiconvergent that still fits.
      const j = Math.min(h1 > 0 ? Math.floor((U32_MAX - h0) / h1) : a, k1 > 0 ? Math.floor((U32_MAX - k0) / k1) : a, a);
      const hs = j * h1 + h0;
      const ks = j * k1 + k0;
      if (j >= 1 && hs >= 1 && ks >= 1 && Math.abs(hs / ks - x) < bestErr) best = [hs, ks];
      break;
    }
    if (h >= 1 && k >= 1) {
      const err = Math.abs(h / k - x);
      if (err < bestErr) {
        best = [h, k];
        bestErr = err;
      }
    }
    [h0, h1] = [h1, h];
    [k0, k1] = [k1, k];
    const frac = rest - a;
    if (frac <= 0) break;
    rest = 1 / frac;
    if (!Number.isFinite(rest)) break;
  }
  return best;
}

interface Entry {
  tag: number;
  type: 2 | 3 | 4 | 5;
  count: number;
  /** Value bytes, little-endian. */
  bytes: Uint8Array;
}

function le(type: 3 | 4, values: readonly number[]): Uint8Array {
  const size = type === 3 ? 2 : 4;
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => (type === 3 ? v.setUint16(i * size, x, true) : v.setUint32(i * size, x, true)));
  return out;
}

function short(tag: number, value: number): Entry {
  return { tag, type: 3, count: 1, bytes: le(3, [value]) };
}

function long(tag: number, values: readonly number[]): Entry {
  return { tag, type: 4, count: values.length, bytes: le(4, values) };
}

function rational(tag: number, num: number, den: number): Entry {
  return { tag, type: 5, count: 1, bytes: le(4, [num, den]) };
}

/** ASCII tag value: UTF-8 bytes plus the terminating NUL (UTF-8 is what ImageJ and tifffile expect). */
function ascii(tag: number, text: string): Entry {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  bytes.push(0);
  return { tag, type: 2, count: bytes.length, bytes: Uint8Array.from(bytes) };
}

function checkDescription(text: string): string {
  if (text.includes('\0')) throw invalidArgument('options.description', 'text without NUL characters', text);
  for (const line of text.split(/\r\n|\r|\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0 && IMAGEJ_KEYS.has(line.slice(0, eq).trim().toLowerCase())) {
      throw invalidArgument('options.description', `text that sets no ImageJ key (found "${line.slice(0, eq + 1)}")`, text);
    }
  }
  return text.endsWith('\n') || text === '' ? text : `${text}\n`;
}

const ARRAY_TYPE = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array } as const;

/** Encodes `image` as a baseline TIFF (see the module comment); identical input gives identical bytes. */
export function encodeTiff(image: TiffWriteImage, options: TiffWriteOptions = {}): Uint8Array {
  const { width, height, dtype, data } = image;
  if (!(dtype in ARRAY_TYPE)) throw invalidArgument('image.dtype', "'uint8', 'uint16' or 'float32'", dtype);
  checkImageSize(width, height, 'image');
  if (!(data instanceof ARRAY_TYPE[dtype])) {
    throw invalidArgument('image.data', `a ${ARRAY_TYPE[dtype].name} for dtype ${dtype}`, data?.constructor?.name ?? data);
  }
  if (data.length !== width * height) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `Expected image.data to hold ${width} x ${height} = ${width * height} values but it holds ${data.length}`);
  }
  const pixelSize = image.pixelSize ?? null;
  if (pixelSize !== null) {
    for (const axis of ['x', 'y'] as const) {
      const v = pixelSize[axis];
      // 2^32-1 bounds both rational terms: 1e-6 nm .. 1e9 nm keeps ample precision either way.
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= 1e-6 && v <= 1e9)) {
        throw invalidArgument(`image.pixelSize.${axis}`, 'a pixel size in nm between 1e-6 and 1e9', v);
      }
    }
  }
  const bpp = BYTES_PER_PIXEL[dtype];
  const rowBytes = width * bpp;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(MAX_STRIP_BYTES / rowBytes)));
  const strips = Math.ceil(height / rowsPerStrip);
  const stripCounts = Array.from({ length: strips }, (_, s) => Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes);
  const pixelBytes = rowBytes * height;
  if (pixelBytes > U32_MAX - (1 << 20)) {
    throw new EmsegError('EMSEG_IMAGE_TOO_LARGE', `image of ${pixelBytes} bytes is beyond what a classic TIFF can hold`);
  }

  let description = `ImageJ=${IMAGEJ_VERSION}\n`;
  if (pixelSize !== null) description += 'unit=nm\n';
  if (options.description !== undefined) description += checkDescription(options.description);

  // Pixels per nm = 1 / pixel size; written as q/p where p/q approximates the pixel size.
  const [xp, xq] = pixelSize ? bestRational(pixelSize.x) : [1, 1];
  const [yp, yq] = pixelSize ? bestRational(pixelSize.y) : [1, 1];

  // Strip offsets are filled in once the layout is known; the placeholder has the final size.
  const stripOffsets = long(273, new Array<number>(strips).fill(0));
  const entries: Entry[] = [
    long(256, [width]),
    long(257, [height]),
    short(258, bpp * 8),
    short(259, 1), // no compression
    short(262, 1), // BlackIsZero
    ascii(270, description),
    stripOffsets,
    short(277, 1),
    long(278, [rowsPerStrip]),
    long(279, stripCounts),
    rational(282, xq, xp),
    rational(283, yq, yp),
    short(284, 1), // chunky
    short(296, 1), // no absolute unit: ImageJ takes the unit from the description
    short(339, dtype === 'float32' ? 3 : 1),
  ];

  const ifdAt = 8;
  const ifdBytes = 2 + entries.length * 12 + 4;
  let cursor = ifdAt + ifdBytes;
  const valueAt = new Map<Entry, number>();
  for (const e of entries) {
    if (e.bytes.length > 4) {
      valueAt.set(e, cursor);
      cursor += e.bytes.length + (e.bytes.length % 2); // word-align each value, as the spec asks
    }
  }
  const dataAt = Math.ceil(cursor / 16) * 16;
  const offsets = stripCounts.map((_, s) => dataAt + s * rowsPerStrip * rowBytes);
  stripOffsets.bytes = le(4, offsets);

  const out = new Uint8Array(dataAt + pixelBytes);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]); // "II", 42
  view.setUint32(4, ifdAt, true);
  view.setUint16(ifdAt, entries.length, true);
  entries.forEach((e, i) => {
    const at = ifdAt + 2 + i * 12;
    view.setUint16(at, e.tag, true);
    view.setUint16(at + 2, e.type, true);
    view.setUint32(at + 4, e.count, true);
    const where = valueAt.get(e);
    if (where === undefined) out.set(e.bytes, at + 8);
    else {
      view.setUint32(at + 8, where, true);
      out.set(e.bytes, where);
    }
  });
  view.setUint32(ifdAt + 2 + entries.length * 12, 0, true); // no next IFD

  const src = new Uint8Array(data.buffer, data.byteOffset, pixelBytes);
  const platformLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (platformLittleEndian || bpp === 1) out.set(src, dataAt);
  else if (dtype === 'uint16') (data as Uint16Array).forEach((v, i) => view.setUint16(dataAt + 2 * i, v, true));
  else (data as Float32Array).forEach((v, i) => view.setFloat32(dataAt + 4 * i, v, true));
  return out;
}
