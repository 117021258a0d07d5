import { EmsegError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import { BYTES_PER_PIXEL, checkImageSize, toNanometres } from './limits.ts';
import { allocatePixels } from './pixels.ts';
import type { EmImage, PixelDType, ReadOptions } from './types.ts';

/**
 * TIFF header and calibration reader, plus a decoder for uncompressed single-channel pixels.
 *
 * The IFD parser is written by hand on purpose. The calibration of an EM TIFF lives in vendor tags
 * (FEI/Thermo 34682 INI text, Zeiss 34118 CZ_SEM text) or in an ImageJ ImageDescription, and general
 * decoders (sharp/libvips, UTIF) either drop those private tags or do not interpret them; the
 * standard XResolution/YResolution fields they do expose are usually a display DPI, not a
 * calibration. A small parser over `ByteReader` serves Node (pixels decoded by sharp) and the browser
 * (pixels decoded here) alike, reads classic TIFF and BigTIFF in either byte order, and bounds every
 * read and loop: IFD chains are walked with cycle detection, every value is range-checked against the
 * file before it is read, and image sizes are checked before anything is allocated.
 */

export type TiffCalibrationSource = 'imagej' | 'fei' | 'zeiss' | 'resolution';

export interface TiffInfo {
  width: number;
  height: number;
  /** Sample type a decoder produces (sub-byte and 12-bit integer samples widen to uint8 / uint16). */
  dtype: PixelDType;
  /** Number of images (IFDs in the main chain). */
  pages: number;
  /** The IFD these fields describe (`options.page`, default 0). */
  page: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  /** TIFF Compression code (1 = none, 5 = LZW, 8/32946 = Deflate, 32773 = PackBits, ...). */
  compression: number;
  /** PhotometricInterpretation (0 WhiteIsZero, 1 BlackIsZero, 2 RGB, 3 palette). */
  photometric: number;
  littleEndian: boolean;
  bigTiff: boolean;
  /** nm per pixel, or null when the file carries no trustworthy length calibration. */
  pixelSize: { x: number; y: number } | null;
  /** The calibration as the file states it, e.g. `{x: 3.3724e-6, y: 3.3724e-6, unit: 'm'}`. */
  calibration: { x: number; y: number; unit: string } | null;
  source: TiffCalibrationSource | null;
  /** Useful text: baseline ASCII tags (ImageDescription, Software, ...) and a few vendor fields (`FEI.*`, `Zeiss.*`). */
  tags: Record<string, string>;
}

const TAG = {
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  Make: 271,
  Model: 272,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Software: 305,
  DateTime: 306,
  Artist: 315,
  HostComputer: 316,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
  CzSem: 34118,
  FeiSfeg: 34680,
  FeiHelios: 34682,
} as const;

const TEXT_TAGS: readonly [number, string][] = [
  [TAG.ImageDescription, 'ImageDescription'],
  [TAG.Software, 'Software'],
  [TAG.Make, 'Make'],
  [TAG.Model, 'Model'],
  [TAG.DateTime, 'DateTime'],
  [TAG.Artist, 'Artist'],
  [TAG.HostComputer, 'HostComputer'],
];

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  2: 'CCITT RLE',
  3: 'CCITT Group 3 fax',
  4: 'CCITT Group 4 fax',
  5: 'LZW',
  6: 'old-style JPEG',
  7: 'JPEG',
  8: 'Deflate (Adobe)',
  32773: 'PackBits',
  32946: 'Deflate',
  34712: 'JPEG 2000',
  34887: 'LERC',
  34925: 'LZMA',
  50000: 'Zstandard',
  50001: 'WebP',
  50002: 'JPEG XL',
};

/** Bytes per value of each TIFF field type (unknown types are skipped, as the spec asks). */
const TYPE_SIZE: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

/** More IFDs than this is not an image file emseg reads (and bounds the chain walk). */
const MAX_PAGES = 1_000_000;
/** Real IFDs hold tens of entries; this bounds a corrupt BigTIFF entry count. */
const MAX_ENTRIES = 65_535;
/** Longest tag text kept in `tags` (ImageJ/DM descriptions can be megabytes). */
const MAX_TAG_TEXT = 4096;

interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  /** Absolute offset of the value bytes (inline values point into the entry itself). */
  at: number;
}

type Ifd = Map<number, IfdEntry>;

const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Text from tag or metadata bytes: UTF-8 when the bytes are valid UTF-8 (ImageJ, Velox JSON),
 * otherwise Latin-1 (Zeiss writes `µ` as the single byte 0xB5). Stops at the first NUL.
 */
export function decodeText(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  let out = '';
  let i = 0;
  let utf8 = true;
  const chunk: number[] = [];
  const flush = (): void => {
    out += String.fromCharCode(...chunk);
    chunk.length = 0;
  };
  while (i < end) {
    const b = bytes[i];
    let cp: number;
    let n: number;
    if (b < 0x80) { cp = b; n = 1; }
    else if (b >= 0xc2 && b < 0xe0) { cp = b & 0x1f; n = 2; }
    else if (b >= 0xe0 && b < 0xf0) { cp = b & 0x0f; n = 3; }
    else if (b >= 0xf0 && b < 0xf5) { cp = b & 0x07; n = 4; }
    else { utf8 = false; break; }
    if (i + n > end) { utf8 = false; break; }
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) { utf8 = false; break; }
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!utf8) break;
    if ((n === 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff))) { utf8 = false; break; }
    if (cp > 0xffff) {
      cp -= 0x10000;
      chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      chunk.push(cp);
    }
    if (chunk.length >= 8192) flush();
    i += n;
  }
  if (utf8) {
    flush();
    return out;
  }
  out = '';
  for (let s = 0; s < end; s += 8192) out += String.fromCharCode(...bytes.subarray(s, Math.min(end, s + 8192)));
  return out;
}

/** True when `bytes` start with a TIFF or BigTIFF header (either byte order). */
export function isTiff(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const le = bytes[0] === 0x49 && bytes[1] === 0x49;
  const be = bytes[0] === 0x4d && bytes[1] === 0x4d;
  if (!le && !be) return false;
  const magic = le ? bytes[2] | (bytes[3] << 8) : (bytes[2] << 8) | bytes[3];
  return magic === 42 || magic === 43;
}

class TiffParser {
  readonly r: ByteReader;
  readonly bigTiff: boolean;
  readonly firstIfd: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    const r = new ByteReader(bytes, name);
    this.r = r;
    if (bytes.length >= 2) {
      const bom = String.fromCharCode(bytes[0], bytes[1]);
      if (bom !== 'II' && bom !== 'MM') {
        throw new EmsegError('EMSEG_FORMAT_UNKNOWN', `${name}: not a TIFF file (starts with bytes ${hex(bytes, 4)}, expected "II" or "MM")`, { file: name });
      }
      r.littleEndian = bom === 'II';
    }
    r.need(8, 'the TIFF header', 0);
    r.seek(2);
    const magic = r.u16('the TIFF magic number');
    if (magic === 42) {
      this.bigTiff = false;
      this.firstIfd = r.u32('the first IFD offset');
    } else if (magic === 43) {
      this.bigTiff = true;
      const offsetSize = r.u16('the BigTIFF offset size');
      const zero = r.u16('the BigTIFF header');
      if (offsetSize !== 8 || zero !== 0) {
        throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: BigTIFF header declares offset size ${offsetSize} (expected 8)`, { file: name });
      }
      this.firstIfd = r.u64('the first IFD offset');
    } else {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: TIFF magic number is ${magic}, expected 42 (TIFF) or 43 (BigTIFF)`, { file: name });
    }
    if (this.firstIfd === 0) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: TIFF header points to no image (first IFD offset 0)`, { file: name });
    }
  }

  get countSize(): number {
    return this.bigTiff ? 8 : 2;
  }

  get entrySize(): number {
    return this.bigTiff ? 20 : 12;
  }

  /** Entry count of the IFD at `offset`, checked so the whole IFD and its next-pointer lie in the file. */
  private ifdCount(offset: number, index: number): number {
    const what = `IFD ${index} (offset ${offset})`;
    this.r.seek(offset, what);
    const count = this.bigTiff ? this.r.u64(`the entry count of ${what}`) : this.r.u16(`the entry count of ${what}`);
    if (count === 0 || count > MAX_ENTRIES) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${this.name}: ${what} declares ${count} entries`, { file: this.name });
    }
    const nextPointer = this.bigTiff ? 8 : 4;
    this.r.need(count * this.entrySize + nextPointer, `the entries of ${what}`, offset + this.countSize);
    return count;
  }

  /** Offsets of all IFDs in the main chain; a chain that loops back is a corrupt file. */
  ifdOffsets(): number[] {
    const seen = new Set<number>();
    const out: number[] = [];
    let offset = this.firstIfd;
    while (offset !== 0) {
      if (seen.has(offset)) {
        throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${this.name}: IFD chain loops back to offset ${offset} after ${out.length} IFDs`, { file: this.name });
      }
      if (out.length >= MAX_PAGES) {
        throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${this.name}: more than ${MAX_PAGES} images in one TIFF`, { file: this.name });
      }
      seen.add(offset);
      out.push(offset);
      const count = this.ifdCount(offset, out.length - 1);
      this.r.seek(offset + this.countSize + count * this.entrySize);
      offset = this.bigTiff ? this.r.u64('the next IFD offset') : this.r.u32('the next IFD offset');
    }
    return out;
  }

  readIfd(offset: number, index: number): Ifd {
    const count = this.ifdCount(offset, index);
    const ifd: Ifd = new Map();
    for (let i = 0; i < count; i++) {
      const entryAt = offset + this.countSize + i * this.entrySize;
      this.r.seek(entryAt);
      const tag = this.r.u16('an IFD entry tag');
      const type = this.r.u16('an IFD entry type');
      const n = this.bigTiff ? this.r.u64('an IFD entry count') : this.r.u32('an IFD entry count');
      const size = TYPE_SIZE[type];
      if (size === undefined) continue;
      const inline = this.bigTiff ? 8 : 4;
      const valueField = this.r.pos;
      const at = n * size <= inline ? valueField : this.bigTiff ? this.r.u64('a tag value offset') : this.r.u32('a tag value offset');
      if (!ifd.has(tag)) ifd.set(tag, { tag, type, count: n, at });
    }
    return ifd;
  }

  private tagName(e: IfdEntry): string {
    return `tag ${e.tag}`;
  }

  /** Numeric values of an entry (RATIONALs as quotients), at most `max` of them. */
  numbers(e: IfdEntry, max = Infinity): number[] {
    const size = TYPE_SIZE[e.type];
    const n = Math.min(e.count, max);
    this.r.need(n * size, `the value of ${this.tagName(e)}`, e.at);
    this.r.seek(e.at);
    const out = new Array<number>(n);
    const what = `the value of ${this.tagName(e)}`;
    for (let i = 0; i < n; i++) {
      switch (e.type) {
        case 1: case 2: case 7: out[i] = this.r.u8(what); break;
        case 6: out[i] = this.r.i8(what); break;
        case 3: out[i] = this.r.u16(what); break;
        case 8: out[i] = this.r.i16(what); break;
        case 4: case 13: out[i] = this.r.u32(what); break;
        case 9: out[i] = this.r.i32(what); break;
        case 5: { const a = this.r.u32(what); const b = this.r.u32(what); out[i] = a / b; break; }
        case 10: { const a = this.r.i32(what); const b = this.r.i32(what); out[i] = a / b; break; }
        case 11: out[i] = this.r.f32(what); break;
        case 12: out[i] = this.r.f64(what); break;
        case 16: case 18: out[i] = this.r.u64(what); break;
        case 17: out[i] = this.r.i64(what); break;
      }
    }
    return out;
  }

  /** First RATIONAL of an entry as [numerator, denominator] (exact, unlike `numbers`). */
  rational(e: IfdEntry): [number, number] | null {
    if (e.type !== 5 || e.count < 1) {
      const v = this.numbers(e, 1)[0];
      return v === undefined ? null : [v, 1];
    }
    this.r.seek(e.at, `the value of ${this.tagName(e)}`);
    return [this.r.u32(`the value of ${this.tagName(e)}`), this.r.u32(`the value of ${this.tagName(e)}`)];
  }

  raw(e: IfdEntry): Uint8Array {
    this.r.seek(e.at, `the value of ${this.tagName(e)}`);
    return this.r.slice(e.count * TYPE_SIZE[e.type], `the value of ${this.tagName(e)}`);
  }

  text(e: IfdEntry): string {
    return decodeText(this.raw(e));
  }
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function one(p: TiffParser, ifd: Ifd, tag: number, fallback: number): number {
  const e = ifd.get(tag);
  if (!e || e.count === 0) return fallback;
  return p.numbers(e, 1)[0];
}

function sampleDType(bits: number, format: number, name: string): PixelDType {
  const fail = (what: string): never => {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${what} samples are not supported`, { file: name });
  };
  if (format === 1 || format === 4) {
    // 4 = "undefined": read as unsigned, as libtiff does.
    if (bits <= 8) return 'uint8';
    if (bits <= 16) return 'uint16';
    if (bits === 32) return 'uint32';
    return fail(`${bits}-bit unsigned integer`);
  }
  if (format === 2) {
    if (bits === 8) return 'int8';
    if (bits === 16) return 'int16';
    if (bits === 32) return 'int32';
    return fail(`${bits}-bit signed integer`);
  }
  if (format === 3) {
    if (bits === 32) return 'float32';
    if (bits === 64) return 'float64';
    return fail(`${bits}-bit floating-point`);
  }
  if (format === 5 || format === 6) return fail('complex');
  return fail(`SampleFormat ${format}`);
}

// ---------------------------------------------------------------------------------------------
// Calibration sources
// ---------------------------------------------------------------------------------------------

interface Calibration {
  x: number;
  y: number;
  unit: string;
}

/** FEI/Thermo INI text (`[Section]` lines, then `Key=Value`), flattened to `Section.Key`. */
function parseIni(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = '';
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line.startsWith('[') && line.endsWith(']')) {
      section = line.slice(1, -1).trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = `${section}.${line.slice(0, eq).trim()}`;
    if (!out.has(key)) out.set(key, line.slice(eq + 1).trim());
  }
  return out;
}

function positive(s: string | undefined): number | null {
  if (s === undefined || s.trim() === '') return null;
  const v = Number(s);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** FEI/Thermo: `[Scan] PixelWidth/PixelHeight` in metres; else field width / pixel count of the beam. */
function feiCalibration(ini: Map<string, string>): Calibration | null {
  const px = positive(ini.get('Scan.PixelWidth'));
  const py = positive(ini.get('Scan.PixelHeight'));
  if (px !== null) return { x: px, y: py ?? px, unit: 'm' };
  const nx = positive(ini.get('Image.ResolutionX'));
  const ny = positive(ini.get('Image.ResolutionY'));
  for (const beam of ['IRBeam', 'EBeam', 'IBeam']) {
    const hfw = positive(ini.get(`${beam}.HFW`));
    const vfw = positive(ini.get(`${beam}.VFW`));
    if (hfw !== null && nx !== null) return { x: hfw / nx, y: vfw !== null && ny !== null ? vfw / ny : hfw / nx, unit: 'm' };
  }
  return null;
}

const FEI_TAG_KEYS: readonly [string, string][] = [
  ['User.Date', 'Date'],
  ['User.Time', 'Time'],
  ['System.SystemType', 'SystemType'],
  ['Beam.HV', 'HV'],
  ['Scan.Dwelltime', 'Dwelltime'],
  ['Scan.HorFieldsize', 'HorFieldsize'],
  ['Stage.WorkingDistance', 'WorkingDistance'],
  ['Image.ResolutionX', 'ResolutionX'],
  ['Image.ResolutionY', 'ResolutionY'],
  ['PrivateFei.DatabarHeight', 'DatabarHeight'],
];

interface CzSem {
  /** Leading unlabelled numbers; index 3 is the pixel size in metres (full precision). */
  header: number[];
  /** `AP_WIDTH` -> `{label: 'Width', value: '5.965 µm'}`. */
  fields: Map<string, { label: string; value: string }>;
}

/** Zeiss CZ_SEM text: a few bare numbers, then alternating `KEY_NAME` / `Label = value` lines. */
function parseCzSem(text: string): CzSem {
  const lines = text.split(/\r\n|\r|\n/);
  const isKey = (s: string): boolean => /^[A-Z]{2,}_[A-Z0-9_]+$/.test(s.trim());
  const header: number[] = [];
  let i = 0;
  for (; i < lines.length && !isKey(lines[i]); i++) header.push(Number(lines[i]));
  const fields = new Map<string, { label: string; value: string }>();
  while (i + 1 < lines.length) {
    if (!isKey(lines[i])) {
      i++;
      continue;
    }
    const key = lines[i].trim();
    const text = lines[i + 1];
    const m = /^\s*([^=:]*?)\s*[=:]\s?(.*)$/.exec(text);
    if (!fields.has(key)) fields.set(key, m ? { label: m[1], value: m[2].trim() } : { label: '', value: text.trim() });
    i += 2;
  }
  return { header, fields };
}

/** `5.965 µm` -> 5.965e-6 (metres); null for anything that is not a positive length. */
function zeissLengthMetres(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d]+)\s*$/.exec(value);
  if (!m) return null;
  const nm = toNanometres(Number(m[1]), m[2]);
  return nm === null ? null : nm * 1e-9;
}

/**
 * The simplest fraction p/q (q <= 8) within 0.2% of `r`, or null. Text fields in CZ_SEM carry four
 * significant digits (<= 0.05% error), so 0.2% leaves a 4x margin while staying well below the gap
 * between distinct small fractions near the ratios that occur (1, 2, 1/2, 4, 3/2, ...).
 */
function snapRatio(r: number): number | null {
  if (!Number.isFinite(r) || r <= 0) return null;
  for (let q = 1; q <= 8; q++) {
    const p = Math.round(r * q);
    if (p >= 1 && Math.abs(p / q - r) <= 0.002 * r) return p / q;
  }
  return null;
}

/**
 * Zeiss SmartSEM. The precise pixel size (header value 3, metres; `AP_PIXEL_SIZE` is the same number
 * rounded to 4 digits) is stated for the scan frame the field of view was set on, which is not
 * always the stored image: the 512-px test file states 5.825 nm for a 5.965 µm wide field, i.e. a
 * 1024-px frame. So the stated size is checked against the image itself: the field width
 * (`AP_WIDTH`, or `AP_IMAGE_PIXEL_SIZE` x width when present) divided by the image width gives the
 * true pixel size to four digits; their ratio to the stated size is the frame / image pixel ratio.
 * That ratio is snapped to a simple fraction (1, 2, 1/2, 3/2...) and the precise stated size scaled
 * by it (512 px: 5.824988 nm x 2 = 11.649976 nm; 1k: ratio 1, 2.614514 µm as stated). When the
 * ratio is no simple fraction, the four-digit field width / image width is used; with no field
 * width at all, the stated size.
 */
function zeissCalibration(cz: CzSem, width: number): Calibration | null {
  const stated = positive(String(cz.header[3])) ?? zeissLengthMetres(cz.fields.get('AP_PIXEL_SIZE')?.value);
  const fieldWidth = zeissLengthMetres(cz.fields.get('AP_WIDTH')?.value);
  const imagePixel = zeissLengthMetres(cz.fields.get('AP_IMAGE_PIXEL_SIZE')?.value);
  const measured = fieldWidth !== null ? fieldWidth / width : imagePixel;
  let size: number | null;
  if (stated === null) size = measured;
  else if (measured === null) size = stated;
  else {
    const ratio = snapRatio(measured / stated);
    size = ratio === null ? measured : stated * ratio;
  }
  return size === null ? null : { x: size, y: size, unit: 'm' };
}

const ZEISS_TAG_KEYS: readonly [string, string][] = [
  ['AP_PIXEL_SIZE', 'PixelSize'],
  ['AP_WIDTH', 'Width'],
  ['AP_HEIGHT', 'Height'],
  ['AP_MAG', 'Mag'],
  ['AP_ACTUALKV', 'EHT'],
  ['AP_WD', 'WD'],
  ['AP_DATE', 'Date'],
  ['AP_TIME', 'Time'],
  ['SV_SERIAL_NUMBER', 'SerialNumber'],
  ['DP_DETECTOR_CHANNEL', 'Detector'],
];

/** ImageJ `key=value` description lines; later lines win, as in ImageJ's own Properties parse. */
function parseImageJ(description: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of description.split(/\r\n|\r|\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

/** ImageJ unit names to emseg's: `micron` and ImageJ's `\u00B5m` escape become `µm`. */
function imageJUnit(raw: string): string {
  const u = raw.replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).trim();
  if (u === 'micron' || u === 'microns' || u === 'um' || u === '\u03bcm') return '\u00b5m';
  if (u === 'A' || u === '\u212b' || u === 'angstrom') return '\u00c5';
  return u;
}

/**
 * ImageJ: pixel width = 1 / XResolution in the unit named by `unit=` (`yunit=` for y when given),
 * whatever ResolutionUnit says (ImageJ writes 1, "none"). No unit, or `pixel`, means uncalibrated.
 */
function imageJCalibration(p: TiffParser, ifd: Ifd, description: string): Calibration | null {
  const props = parseImageJ(description);
  const unitRaw = props.get('unit');
  if (unitRaw === undefined) return null;
  const unit = imageJUnit(unitRaw);
  if (unit === '' || unit === 'pixel' || unit === 'pixels') return null;
  const xr = resolutionSize(p, ifd.get(TAG.XResolution));
  const yr = resolutionSize(p, ifd.get(TAG.YResolution)) ?? xr;
  if (xr === null || yr === null) return null;
  const yUnitRaw = props.get('yunit');
  if (yUnitRaw !== undefined && imageJUnit(yUnitRaw) !== unit) {
    // Different units per axis: express y in x's unit when both are lengths, else give up.
    const yInX = (toNanometres(yr, imageJUnit(yUnitRaw)) ?? NaN) / (toNanometres(1, unit) ?? NaN);
    return Number.isFinite(yInX) ? { x: xr, y: yInX, unit } : null;
  }
  return { x: xr, y: yr, unit };
}

/** 1 / resolution, computed as denominator / numerator so exact rationals stay exact. */
function resolutionSize(p: TiffParser, e: IfdEntry | undefined): number | null {
  if (!e) return null;
  const r = p.rational(e);
  if (!r) return null;
  const [num, den] = r;
  const v = den / num;
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** Largest pixel a generic XResolution is believed to describe: 10 µm (an SEM at its lowest magnification). */
const MAX_GENERIC_PIXEL_NM = 10_000;

/**
 * Generic XResolution/YResolution, used only when nothing better is present and only when it is
 * plausible as a microscope calibration:
 * - ResolutionUnit must be 2 (inch) or 3 (cm); unit 1 ("none") carries no length.
 * - The pixel must be at most 10 µm (> 2540 pixels per inch, > 1000 per cm). Every screen or print
 *   density (64, 72, 96, 300, 600 dpi...) gives 40-400 µm pixels, far larger than any EM pixel;
 *   e.g. the FEI files' XResolution 64 dpi would mean 397 µm, and is ignored.
 * - In inches, a whole number of dots per inch up to 10000 is a device density (film and flatbed
 *   scanners reach 2400-9600 dpi), not a specimen calibration, which is almost never an integer.
 */
function resolutionCalibration(p: TiffParser, ifd: Ifd): Calibration | null {
  const unitCode = one(p, ifd, TAG.ResolutionUnit, 2);
  if (unitCode !== 2 && unitCode !== 3) return null;
  const xe = ifd.get(TAG.XResolution);
  const ye = ifd.get(TAG.YResolution);
  const x = resolutionSize(p, xe);
  const y = resolutionSize(p, ye) ?? x;
  if (x === null || y === null) return null;
  const unit = unitCode === 2 ? 'inch' : 'cm';
  const nmPerUnit = unitCode === 2 ? 2.54e7 : 1e7;
  for (const size of [x, y]) {
    if (size * nmPerUnit > MAX_GENERIC_PIXEL_NM) return null;
    const perUnit = 1 / size;
    if (unitCode === 2 && perUnit <= 10_000 && Math.abs(perUnit - Math.round(perUnit)) < 1e-9 * perUnit) return null;
  }
  return { x, y, unit };
}

function calibrationToNm(c: Calibration): { x: number; y: number } | null {
  const perUnit = c.unit === 'inch' ? 2.54e7 : toNanometres(1, c.unit);
  if (perUnit === null) return null;
  const x = c.x * perUnit;
  const y = c.y * perUnit;
  return Number.isFinite(x) && x > 0 && Number.isFinite(y) && y > 0 ? { x, y } : null;
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

interface Parsed {
  parser: TiffParser;
  ifd: Ifd;
  info: TiffInfo;
  name: string;
}

function pickPage(page: number | undefined, pages: number, name: string): number {
  const p = page ?? 0;
  if (!Number.isSafeInteger(p) || p < 0 || p >= pages) {
    throw new EmsegError(
      'EMSEG_INVALID_ARGUMENT',
      `${name}: page ${String(p)} requested, but the TIFF holds ${pages} image${pages === 1 ? '' : 's'}`,
      { file: name },
    );
  }
  return p;
}

function parse(bytes: Uint8Array, options: ReadOptions): Parsed {
  const name = options.name ?? 'TIFF data';
  const p = new TiffParser(bytes, name);
  const offsets = p.ifdOffsets();
  const page = pickPage(options.page, offsets.length, name);
  const ifd = p.readIfd(offsets[page], page);

  const need = (tag: number, label: string): number => {
    const e = ifd.get(tag);
    if (!e || e.count === 0) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: IFD ${page} has no ${label} (tag ${tag})`, { file: name });
    }
    return p.numbers(e, 1)[0];
  };
  const width = need(TAG.ImageWidth, 'ImageWidth');
  const height = need(TAG.ImageLength, 'ImageLength');
  checkImageSize(width, height, name);
  const samplesPerPixel = one(p, ifd, TAG.SamplesPerPixel, 1);
  const bitsPerSample = one(p, ifd, TAG.BitsPerSample, 1);
  const sampleFormat = one(p, ifd, TAG.SampleFormat, 1);
  const compression = one(p, ifd, TAG.Compression, 1);
  const photometric = one(p, ifd, TAG.Photometric, samplesPerPixel >= 3 ? 2 : 1);
  if (!(samplesPerPixel >= 1 && samplesPerPixel <= 64)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: IFD ${page} declares ${samplesPerPixel} samples per pixel`, { file: name });
  }
  const dtype = sampleDType(bitsPerSample, sampleFormat, name);

  const tags: Record<string, string> = {};
  for (const [tag, label] of TEXT_TAGS) {
    const e = ifd.get(tag);
    if (e && e.type === 2) {
      const t = p.text(e).trim();
      if (t) tags[label] = t.length > MAX_TAG_TEXT ? `${t.slice(0, MAX_TAG_TEXT)}...` : t;
    }
  }

  // Vendor tags first, then ImageJ, then the generic resolution fields.
  let calibration: Calibration | null = null;
  let source: TiffCalibrationSource | null = null;
  for (const tag of [TAG.FeiHelios, TAG.FeiSfeg]) {
    const e = ifd.get(tag);
    if (!e) continue;
    const ini = parseIni(p.text(e));
    for (const [key, label] of FEI_TAG_KEYS) {
      const v = ini.get(key);
      if (v) tags[`FEI.${label}`] = v;
    }
    const c = feiCalibration(ini);
    if (c && !calibration) {
      calibration = c;
      source = 'fei';
    }
  }
  const cz = ifd.get(TAG.CzSem);
  if (cz) {
    const parsed = parseCzSem(p.text(cz));
    for (const [key, label] of ZEISS_TAG_KEYS) {
      const f = parsed.fields.get(key);
      if (f && f.value) tags[`Zeiss.${label}`] = f.value;
    }
    if (!calibration) {
      calibration = zeissCalibration(parsed, width);
      if (calibration) source = 'zeiss';
    }
  }
  const description = ifd.get(TAG.ImageDescription);
  if (!calibration && description && description.type === 2) {
    const text = p.text(description);
    if (text.startsWith('ImageJ=')) {
      calibration = imageJCalibration(p, ifd, text);
      if (calibration) source = 'imagej';
    }
  }
  if (!calibration) {
    calibration = resolutionCalibration(p, ifd);
    if (calibration) source = 'resolution';
  }
  const pixelSize = calibration ? calibrationToNm(calibration) : null;

  const info: TiffInfo = {
    width,
    height,
    dtype,
    pages: offsets.length,
    page,
    samplesPerPixel,
    bitsPerSample,
    compression,
    photometric,
    littleEndian: p.r.littleEndian,
    bigTiff: p.bigTiff,
    pixelSize,
    calibration,
    source,
    tags,
  };
  checkDataExtent(p, ifd, info, name);
  return { parser: p, ifd, info, name };
}

interface Segments {
  offsets: number[];
  counts: number[] | null;
  tiled: boolean;
  tileWidth: number;
  tileHeight: number;
  rowsPerStrip: number;
}

function segments(p: TiffParser, ifd: Ifd, info: TiffInfo, name: string): Segments {
  const tiled = ifd.has(TAG.TileOffsets);
  const offsetsEntry = ifd.get(tiled ? TAG.TileOffsets : TAG.StripOffsets);
  if (!offsetsEntry) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: IFD ${info.page} has no ${tiled ? 'TileOffsets' : 'StripOffsets'}`, { file: name });
  }
  const countsEntry = ifd.get(tiled ? TAG.TileByteCounts : TAG.StripByteCounts);
  let tileWidth = info.width;
  let tileHeight = info.height;
  let rowsPerStrip = info.height;
  let expected: number;
  const planes = one(p, ifd, TAG.PlanarConfiguration, 1) === 2 ? info.samplesPerPixel : 1;
  if (tiled) {
    tileWidth = one(p, ifd, TAG.TileWidth, 0);
    tileHeight = one(p, ifd, TAG.TileLength, 0);
    if (!(Number.isSafeInteger(tileWidth) && tileWidth > 0 && Number.isSafeInteger(tileHeight) && tileHeight > 0)) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: tile size ${tileWidth} x ${tileHeight} is not positive`, { file: name });
    }
    checkImageSize(tileWidth, tileHeight, name);
    expected = Math.ceil(info.width / tileWidth) * Math.ceil(info.height / tileHeight) * planes;
  } else {
    const rps = one(p, ifd, TAG.RowsPerStrip, info.height);
    rowsPerStrip = rps >= 1 ? Math.min(rps, info.height) : info.height;
    expected = Math.ceil(info.height / rowsPerStrip) * planes;
  }
  if (offsetsEntry.count < expected) {
    throw new EmsegError(
      'EMSEG_FORMAT_BAD_HEADER',
      `${name}: IFD ${info.page} lists ${offsetsEntry.count} ${tiled ? 'tile' : 'strip'} offsets, the image needs ${expected}`,
      { file: name },
    );
  }
  const offsets = p.numbers(offsetsEntry, expected);
  const counts = countsEntry ? p.numbers(countsEntry, expected) : null;
  if (counts && counts.length < expected) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: IFD ${info.page} lists too few ${tiled ? 'tile' : 'strip'} byte counts`, { file: name });
  }
  return { offsets, counts, tiled, tileWidth, tileHeight, rowsPerStrip };
}

/** Bytes one uncompressed strip or tile holds. */
function segmentBytes(seg: Segments, info: TiffInfo, index: number, planar: boolean): number {
  const spp = planar ? 1 : info.samplesPerPixel;
  const rowBytes = (w: number): number => Math.ceil((w * spp * info.bitsPerSample) / 8);
  if (seg.tiled) return rowBytes(seg.tileWidth) * seg.tileHeight;
  const stripsPerPlane = Math.ceil(info.height / seg.rowsPerStrip);
  const s = index % stripsPerPlane;
  const rows = Math.min(seg.rowsPerStrip, info.height - s * seg.rowsPerStrip);
  return rowBytes(info.width) * rows;
}

/** Every strip/tile the image needs must lie inside the file: catches truncated files up front. */
function checkDataExtent(p: TiffParser, ifd: Ifd, info: TiffInfo, name: string): void {
  const seg = segments(p, ifd, info, name);
  const planar = one(p, ifd, TAG.PlanarConfiguration, 1) === 2;
  for (let i = 0; i < seg.offsets.length; i++) {
    // Uncompressed: the rows a strip holds must be there (a longer declared count is harmless).
    // Compressed: the declared byte count must be there.
    const need = info.compression === 1 ? segmentBytes(seg, info, i, planar) : (seg.counts?.[i] ?? 0);
    if (!(seg.offsets[i] >= 0 && seg.offsets[i] + need <= p.bytes.length)) {
      throw new EmsegError(
        'EMSEG_FORMAT_TRUNCATED',
        `${name}: file ends before ${seg.tiled ? 'tile' : 'strip'} ${i} of image ${info.page} (needs ${need} bytes at offset ${seg.offsets[i]}, file has ${p.bytes.length})`,
        { file: name },
      );
    }
  }
}

/**
 * Header, page count and calibration of a TIFF (no pixel decoding). Calibration sources, in order:
 * FEI/Thermo tag 34682 (or 34680), Zeiss tag 34118, an ImageJ ImageDescription, and last the generic
 * XResolution/YResolution when plausible (see `resolutionCalibration`).
 */
export function readTiffInfo(bytes: Uint8Array, options: ReadOptions = {}): TiffInfo {
  return parse(bytes, options).info;
}

/**
 * Decodes the pixels of one page of an uncompressed, single-channel TIFF with 8/16/32/64-bit samples
 * (strips or tiles, either byte order): what emseg's own writer produces, and what a browser needs.
 * Values are returned as stored: palette images give their indices, WhiteIsZero is not inverted
 * (`metadata.photometric` says which). Compressed or multi-channel data throw EMSEG_FORMAT_UNSUPPORTED.
 */
export function readTiffPixels(bytes: Uint8Array, options: ReadOptions = {}): EmImage {
  const { parser: p, ifd, info, name } = parse(bytes, options);
  if (info.compression !== 1) {
    const what = COMPRESSION_NAMES[info.compression] ?? 'an unknown scheme';
    throw new EmsegError(
      'EMSEG_FORMAT_UNSUPPORTED',
      `${name}: image ${info.page} is compressed (Compression ${info.compression}: ${what}); only uncompressed TIFF pixels are decoded here`,
      { file: name },
    );
  }
  if (info.samplesPerPixel !== 1) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: image ${info.page} has ${info.samplesPerPixel} samples per pixel; only single-channel images are decoded`, { file: name });
  }
  const bpp = BYTES_PER_PIXEL[info.dtype];
  if (info.bitsPerSample !== bpp * 8) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${info.bitsPerSample}-bit samples are not decoded here (8, 16, 32 or 64 only)`, { file: name });
  }
  const seg = segments(p, ifd, info, name);
  const { width, height } = info;
  const data = allocatePixels(info.dtype, width * height);
  const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const rowBytes = width * bpp;
  if (seg.tiled) {
    const across = Math.ceil(width / seg.tileWidth);
    const tileRowBytes = seg.tileWidth * bpp;
    for (let t = 0; t < seg.offsets.length; t++) {
      const x0 = (t % across) * seg.tileWidth;
      const y0 = Math.floor(t / across) * seg.tileHeight;
      const copyBytes = (Math.min(seg.tileWidth, width - x0)) * bpp;
      const rows = Math.min(seg.tileHeight, height - y0);
      for (let y = 0; y < rows; y++) {
        const src = seg.offsets[t] + y * tileRowBytes;
        out.set(bytes.subarray(src, src + copyBytes), (y0 + y) * rowBytes + x0 * bpp);
      }
    }
  } else {
    for (let s = 0; s < seg.offsets.length; s++) {
      const y0 = s * seg.rowsPerStrip;
      const rows = Math.min(seg.rowsPerStrip, height - y0);
      out.set(bytes.subarray(seg.offsets[s], seg.offsets[s] + rows * rowBytes), y0 * rowBytes);
    }
  }
  if (bpp > 1 && info.littleEndian !== PLATFORM_LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += bpp) {
      for (let lo = i, hi = i + bpp - 1; lo < hi; lo++, hi--) {
        const t = out[lo];
        out[lo] = out[hi];
        out[hi] = t;
      }
    }
  }
  return {
    format: 'TIFF',
    width,
    height,
    dtype: info.dtype,
    data,
    pixelSize: info.pixelSize,
    metadata: {
      calibration: info.calibration,
      calibrationSource: info.source,
      pages: info.pages,
      page: info.page,
      photometric: info.photometric,
      tags: info.tags,
    },
  };
}
