import { EmsegError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import { BYTES_PER_PIXEL, checkImageSize, toNanometres } from './limits.ts';
import { copyPixels, latin1, pickPage } from './pixels.ts';
import type { EmImage, PixelDType, ReadOptions } from './types.ts';

/**
 * Gatan DigitalMicrograph DM3 / DM4 reader, written by hand: no JavaScript library reads these files.
 *
 * Layout followed (the published description of the DM tag file: Chris Boothroyd's "Gatan
 * DigitalMicrograph DM3 file format" notes and Gatan's DM4 addendum, as also implemented by
 * rosettasciio `rsciio/digitalmicrograph` and ncempy `ncempy/io/dm.py`):
 *
 *   header   version (int32 BE, 3 or 4), file size (uint32 BE in DM3, uint64 BE in DM4),
 *            byte order of the tag DATA (int32 BE: 1 little-endian, 0 big-endian)
 *   group    sorted (u8), open (u8), tag count (u32 / u64 BE)
 *   tag      kind (u8: 20 group, 21 data), name length (u16 BE), name (bytes),
 *            [DM4 only: tag byte size (u64 BE)], then a group or:
 *   data     "%%%%", info length n (u32 / u64 BE), n info words (u32 / u64 BE), the value
 *            info[0] = 2 i16, 3 i32, 4 u16, 5 u32, 6 f32, 7 f64, 8 bool, 9 i8, 10 u8, 11 i64, 12 u64,
 *            15 struct [15, nameLen, nFields, (nameLen, type) x nFields],
 *            18 string [18, length], 20 array [20, elemType, count] or, for arrays of structs,
 *            [20, 15, nameLen, nFields, (nameLen, type) x nFields, count].
 *   Structure (sizes, info words) is big-endian; values use the header's byte order.
 *
 * Images live in ImageList/<n>/ImageData {DataType, Dimensions [x, y, ...], Data (array),
 * Calibrations/Dimension/<i> {Scale, Units, Origin}}. Entry 0 is normally the RGBA thumbnail, listed
 * by index under the root Thumbnails group; those are skipped, as are 1-D entries (plots, spectra).
 * Every real image contributes one page per 2-D plane (a 3-D stack contributes its z planes).
 * `Origin` is in pixels (physical coordinate of pixel i = (i - Origin) * Scale).
 *
 * Parsing never decodes the big arrays (pixel data): it records their offset and size, checks they
 * lie inside the file, and skips them. The tag tree's depth is bounded (MAX_DEPTH) and every loop
 * advances through the file, so corrupt files end in an EmsegError, never a hang or a RangeError.
 */

/** Byte size of each simple DM tag value type. */
const SIMPLE_SIZE: Readonly<Record<number, number>> = { 2: 2, 3: 4, 4: 2, 5: 4, 6: 4, 7: 8, 8: 1, 9: 1, 10: 1, 11: 8, 12: 8 };
const TAG_GROUP = 20;
const TAG_DATA = 21;
const TYPE_STRUCT = 15;
const TYPE_STRING = 18;
const TYPE_ARRAY = 20;
/** Deepest tag-group nesting accepted (real files nest under 10 levels). */
const MAX_DEPTH = 64;
/** Simple arrays up to this many values are decoded (strings, dimension lists); larger ones are only located. */
const MAX_DECODED = 4096;

/** DM image DataType codes emseg reads (Gatan's table); bool (14) is read as uint8 0/1. */
const DM_DTYPES: Readonly<Record<number, PixelDType>> = {
  1: 'int16', 2: 'float32', 6: 'uint8', 7: 'int32', 9: 'int8', 10: 'uint16', 11: 'uint32', 12: 'float64', 14: 'uint8',
};
/** DM image DataType codes that are valid but not single-channel real images. */
const DM_UNSUPPORTED: Readonly<Record<number, string>> = {
  3: 'complex64', 5: 'packed complex64', 13: 'complex128', 27: 'packed complex64', 28: 'packed complex128',
  8: 'RGB', 23: 'RGBA', 4: 'obsolete 8-bit (DataType 4)', 0: 'null',
};

interface DmData {
  kind: 'data';
  /** Encoded type of the value (or of the array elements). */
  elemType: number;
  count: number;
  offset: number;
  byteLength: number;
  /** Decoded value: a number, a struct's fields, a small simple array, a string; null when not decoded. */
  value: number | string | number[] | null;
}

interface DmGroup {
  kind: 'group';
  tags: { name: string; node: DmNode }[];
}

type DmNode = DmData | DmGroup;

interface DmHeader {
  version: 3 | 4;
  littleEndian: boolean;
  rootOffset: number;
}

/** Cheap check: DM3/DM4 version word, a byte-order word of 0 or 1, and a plausible root group. */
export function isDm(bytes: Uint8Array): boolean {
  if (bytes.length < 24) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = v.getUint32(0, false);
  if (version !== 3 && version !== 4) return false;
  const orderAt = version === 3 ? 8 : 12;
  const order = v.getUint32(orderAt, false);
  const sorted = bytes[orderAt + 4];
  const open = bytes[orderAt + 5];
  return (order === 0 || order === 1) && sorted <= 1 && open <= 1;
}

function badHeader(name: string, message: string): EmsegError {
  return new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: ${message}`, { file: name });
}

function readHeader(bytes: Uint8Array, name: string): DmHeader {
  const r = new ByteReader(bytes, name, false);
  const version = r.u32('the DM version field');
  if (version !== 3 && version !== 4) {
    throw badHeader(name, `not a DigitalMicrograph file: version field (bytes 0-3) is ${version}, expected 3 or 4`);
  }
  if (version === 3) r.u32('the DM3 file size field');
  else r.u64('the DM4 file size field');
  const order = r.u32('the DM byte-order field');
  if (order !== 0 && order !== 1) {
    throw badHeader(name, `DM${version} byte-order field is ${order}, expected 0 (big-endian) or 1 (little-endian)`);
  }
  return { version, littleEndian: order === 1, rootOffset: r.pos };
}

class DmParser {
  readonly r: ByteReader;

  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
    readonly header: DmHeader,
  ) {
    this.r = new ByteReader(bytes, name, false);
    this.r.seek(header.rootOffset, 'the root tag group');
  }

  /** A size / count / info word: u32 in DM3, u64 in DM4, big-endian. */
  word(what: string): number {
    return this.header.version === 4 ? this.r.u64(what) : this.r.u32(what);
  }

  group(path: string, depth: number): DmGroup {
    if (depth > MAX_DEPTH) throw badHeader(this.name, `tag groups nested deeper than ${MAX_DEPTH} levels at ${path}`);
    const r = this.r;
    r.u8(`the header of tag group ${path}`);
    r.u8(`the header of tag group ${path}`);
    const n = this.word(`the tag count of group ${path}`);
    const tags: DmGroup['tags'] = [];
    // Each tag takes at least 3 bytes, so a corrupt count ends in EMSEG_FORMAT_TRUNCATED, not a hang.
    for (let i = 0; i < n; i++) {
      const kind = r.u8(`tag ${i} of group ${path}`);
      const nameLength = r.u16(`the name length of tag ${i} in ${path}`);
      r.need(nameLength, `the name of tag ${i} in ${path}`);
      const tagName = latin1(this.bytes, r.pos, r.pos + nameLength);
      r.pos += nameLength;
      const tagPath = `${path}/${tagName || `[${i}]`}`;
      if (this.header.version === 4) this.word(`the size of tag ${tagPath}`);
      let node: DmNode;
      if (kind === TAG_GROUP) node = this.group(tagPath, depth + 1);
      else if (kind === TAG_DATA) node = this.data(tagPath);
      else throw badHeader(this.name, `tag ${tagPath} has kind ${kind}, expected 20 (group) or 21 (data)`);
      tags.push({ name: tagName, node });
    }
    return { kind: 'group', tags };
  }

  private simpleSize(type: number, path: string): number {
    const size = SIMPLE_SIZE[type];
    if (size === undefined) throw badHeader(this.name, `tag ${path} has value type ${type}, which is not a DM simple type`);
    return size;
  }

  private info(path: string, info: number[], index: number): number {
    if (index >= info.length) {
      throw badHeader(this.name, `tag ${path}: type description [${info.join(', ')}] is too short for its type`);
    }
    return info[index];
  }

  data(path: string): DmData {
    const r = this.r;
    const delimiter = r.ascii(4, `the data delimiter of tag ${path}`);
    if (delimiter !== '%%%%') throw badHeader(this.name, `tag ${path}: expected the data delimiter "%%%%", found ${JSON.stringify(delimiter)}`);
    const n = this.word(`the type description length of tag ${path}`);
    const wordSize = this.header.version === 4 ? 8 : 4;
    if (n < 1) throw badHeader(this.name, `tag ${path}: empty type description`);
    r.need(n * wordSize, `the type description of tag ${path}`);
    const info: number[] = [];
    for (let i = 0; i < n; i++) info.push(this.word(`the type description of tag ${path}`));

    const type = info[0];
    let elemType = type;
    let count = 1;
    let elemSize: number;
    let decodeSimple = false;
    let fields: number[] | null = null;
    if (SIMPLE_SIZE[type] !== undefined) {
      elemSize = SIMPLE_SIZE[type];
      decodeSimple = true;
    } else if (type === TYPE_STRING) {
      elemSize = 1;
      count = this.info(path, info, 1);
    } else if (type === TYPE_STRUCT) {
      fields = this.structFields(path, info, 1);
      elemSize = fields.reduce((s, t) => s + this.simpleSize(t, path), 0);
    } else if (type === TYPE_ARRAY) {
      elemType = this.info(path, info, 1);
      if (SIMPLE_SIZE[elemType] !== undefined) {
        elemSize = SIMPLE_SIZE[elemType];
        count = this.info(path, info, 2);
        decodeSimple = true;
      } else if (elemType === TYPE_STRUCT) {
        const structFields = this.structFields(path, info, 2);
        elemSize = structFields.reduce((s, t) => s + this.simpleSize(t, path), 0);
        count = this.info(path, info, 4 + 2 * structFields.length);
      } else if (elemType === TYPE_STRING) {
        elemSize = this.info(path, info, 2);
        count = this.info(path, info, 3);
      } else if (elemType === TYPE_ARRAY) {
        elemSize = this.simpleSize(this.info(path, info, 2), path) * this.info(path, info, 3);
        count = this.info(path, info, 4);
      } else {
        throw badHeader(this.name, `tag ${path}: array of unknown element type ${elemType}`);
      }
    } else {
      throw badHeader(this.name, `tag ${path}: unknown value type ${type}`);
    }

    const byteLength = elemSize * count;
    if (!Number.isSafeInteger(byteLength)) throw badHeader(this.name, `tag ${path}: declared size ${count} x ${elemSize} bytes is impossible`);
    const offset = r.pos;
    r.need(byteLength, `the value of tag ${path}`);
    let value: DmData['value'] = null;
    if (decodeSimple && count <= MAX_DECODED) {
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(this.simple(elemType, offset + i * elemSize));
      value = type === TYPE_ARRAY ? values : values[0];
    } else if (fields) {
      value = [];
      let at = offset;
      for (const t of fields) {
        value.push(this.simple(t, at));
        at += SIMPLE_SIZE[t];
      }
    } else if (type === TYPE_STRING && count <= MAX_DECODED) {
      value = latin1(this.bytes, offset, offset + count);
    }
    r.pos += byteLength;
    return { kind: 'data', elemType, count, offset, byteLength, value };
  }

  /** Field types of a struct description starting at info[at] = name length, info[at+1] = field count. */
  private structFields(path: string, info: number[], at: number): number[] {
    const nFields = this.info(path, info, at + 1);
    if (at + 2 + 2 * nFields > info.length) {
      throw badHeader(this.name, `tag ${path}: struct declares ${nFields} fields but its type description has ${info.length} words`);
    }
    const types: number[] = [];
    for (let f = 0; f < nFields; f++) types.push(info[at + 3 + 2 * f]);
    return types;
  }

  private simple(type: number, at: number): number {
    const v = this.r.view;
    const le = this.header.littleEndian;
    switch (type) {
      case 2: return v.getInt16(at, le);
      case 3: return v.getInt32(at, le);
      case 4: return v.getUint16(at, le);
      case 5: return v.getUint32(at, le);
      case 6: return v.getFloat32(at, le);
      case 7: return v.getFloat64(at, le);
      case 8: return v.getUint8(at);
      case 9: return v.getInt8(at);
      case 10: return v.getUint8(at);
      case 11: return Number(v.getBigInt64(at, le));
      case 12: return Number(v.getBigUint64(at, le));
      default: throw badHeader(this.name, `value type ${type} is not a DM simple type`);
    }
  }
}

function child(node: DmNode | undefined, name: string): DmNode | undefined {
  if (node?.kind !== 'group') return undefined;
  return node.tags.find((t) => t.name === name)?.node;
}

function at(node: DmNode | undefined, path: string): DmNode | undefined {
  let n = node;
  for (const part of path.split('/')) n = child(n, part);
  return n;
}

function num(node: DmNode | undefined): number | undefined {
  return node?.kind === 'data' && typeof node.value === 'number' ? node.value : undefined;
}

/** DM text: arrays of u16 are UTF-16 code units (e.g. Units "µm"); byte arrays and type-18 strings are Latin-1. */
function text(node: DmNode | undefined): string | undefined {
  if (node?.kind !== 'data') return undefined;
  if (typeof node.value === 'string') return node.value;
  if (Array.isArray(node.value)) {
    if (node.elemType === 4) return String.fromCharCode(...node.value);
    if (node.elemType === 9 || node.elemType === 10) return String.fromCharCode(...node.value.map((c) => c & 0xff));
  }
  return undefined;
}

function numbers(node: DmNode | undefined): number[] {
  if (node?.kind === 'group') return node.tags.map((t) => num(t.node) ?? NaN);
  if (node?.kind === 'data' && Array.isArray(node.value)) return node.value;
  return [];
}

interface DmImageEntry {
  /** Index in ImageList. */
  index: number;
  node: DmNode;
  imageData: DmGroup;
  dims: number[];
  /** Number of 2-D planes (product of the dimensions after x and y). */
  planes: number;
}

/** Non-thumbnail ImageList entries with at least two dimensions, in file order. */
function imageEntries(root: DmGroup, name: string): DmImageEntry[] {
  const list = child(root, 'ImageList');
  if (list?.kind !== 'group') throw badHeader(name, 'no ImageList tag group: the file holds no images');
  const thumbnailList = child(root, 'Thumbnails');
  const thumbnails = new Set<number>();
  if (thumbnailList?.kind === 'group') {
    for (const t of thumbnailList.tags) {
      const i = num(child(t.node, 'ImageIndex'));
      if (i !== undefined) thumbnails.add(i);
    }
  }
  const entries: DmImageEntry[] = [];
  list.tags.forEach((t, index) => {
    if (thumbnails.has(index)) return;
    const imageData = child(t.node, 'ImageData');
    if (imageData?.kind !== 'group') return;
    // Without a Thumbnails list, an RGBA entry 0 is still the thumbnail DigitalMicrograph always writes first.
    if (thumbnailList === undefined && index === 0 && num(child(imageData, 'DataType')) === 23 && list.tags.length > 1) return;
    const dims = numbers(child(imageData, 'Dimensions'));
    if (dims.length < 2) return;
    let planes = 1;
    for (const d of dims.slice(2)) planes *= d;
    if (!Number.isSafeInteger(planes) || planes < 1) {
      throw badHeader(name, `ImageList[${index}]/ImageData/Dimensions is [${dims.join(', ')}]; expected positive integers`);
    }
    entries.push({ index, node: t.node, imageData, dims, planes });
  });
  return entries;
}

interface AxisCalibration {
  scale: number;
  origin: number;
  unit: string;
}

function axisCalibration(imageData: DmGroup, axis: number): AxisCalibration {
  const dims = at(imageData, 'Calibrations/Dimension');
  const d = dims?.kind === 'group' ? dims.tags[axis]?.node : undefined;
  const scale = num(child(d, 'Scale'));
  const origin = num(child(d, 'Origin'));
  return {
    scale: scale !== undefined && Number.isFinite(scale) ? scale : 1,
    origin: origin !== undefined && Number.isFinite(origin) ? origin : 0,
    unit: (text(child(d, 'Units')) ?? '').trim(),
  };
}

/** A few microscope tags found cheaply, when present. */
function microscopeInfo(entry: DmNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const tags = child(entry, 'ImageTags');
  const mic = child(tags, 'Microscope Info');
  const put = (key: string, v: unknown) => {
    if (v !== undefined && v !== '') out[key] = v;
  };
  // Same precedence as rosettasciio: the session's microscope name, then the microscope's own.
  put('microscope', [text(at(tags, 'Session Info/Microscope')), text(child(mic, 'Name')), text(child(mic, 'Microscope'))].find((s) => s));
  put('voltage', num(child(mic, 'Voltage')));
  put('mode', text(child(mic, 'Operation Mode')));
  put('magnification', num(child(mic, 'Indicated Magnification')));
  put('acquisitionDate', text(at(tags, 'DataBar/Acquisition Date')));
  put('acquisitionTime', text(at(tags, 'DataBar/Acquisition Time')));
  return out;
}

/**
 * Reads one image of a DM3 or DM4 file. `options.page` picks the n-th 2-D plane among the real
 * (non-thumbnail, at least 2-D) images, in ImageList order.
 */
export function readDm(bytes: Uint8Array, options: ReadOptions = {}): EmImage {
  const name = options.name ?? 'DM data';
  const header = readHeader(bytes, name);
  const parser = new DmParser(bytes, name, header);
  const root = parser.group('', 0);
  const entries = imageEntries(root, name);
  const pages = entries.reduce((s, e) => s + e.planes, 0);
  let page = pickPage(options.page, pages, name);
  const pageIndex = page;
  let entry = entries[0];
  for (const e of entries) {
    entry = e;
    if (page < e.planes) break;
    page -= e.planes;
  }
  const plane = page;
  const where = `ImageList[${entry.index}]/ImageData`;
  const [width, height] = entry.dims;
  checkImageSize(width, height, name, entry.planes);

  const dataType = num(child(entry.imageData, 'DataType'));
  if (dataType === undefined) throw badHeader(name, `${where}/DataType is missing`);
  const dtype = DM_DTYPES[dataType];
  if (dtype === undefined) {
    const what = DM_UNSUPPORTED[dataType];
    if (what !== undefined) {
      throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${where}/DataType is ${dataType} (${what} pixels); emseg reads single-channel real images only`, { file: name });
    }
    throw badHeader(name, `${where}/DataType is ${dataType}, not a DigitalMicrograph image data type`);
  }
  const data = child(entry.imageData, 'Data');
  if (data?.kind !== 'data') throw badHeader(name, `${where}/Data is missing`);
  const planeBytes = width * height * BYTES_PER_PIXEL[dtype];
  if (data.byteLength < planeBytes * entry.planes) {
    throw badHeader(
      name,
      `${where}/Data holds ${data.byteLength} bytes but Dimensions [${entry.dims.join(', ')}] of ${dtype} need ${planeBytes * entry.planes}`,
    );
  }
  const pixels = copyPixels(bytes, { offset: data.offset + plane * planeBytes, width, height, dtype, littleEndian: header.littleEndian }, name);

  const cx = axisCalibration(entry.imageData, 0);
  const cy = axisCalibration(entry.imageData, 1);
  const nmX = toNanometres(cx.scale, cx.unit);
  const nmY = toNanometres(cy.scale, cy.unit);
  const title = text(child(entry.node, 'Name'));
  const metadata: Record<string, unknown> = {
    calibration: {
      x: cx.scale,
      y: cy.scale,
      unit: cx.unit === cy.unit && cx.unit !== '' ? cx.unit : null,
      xUnit: cx.unit || null,
      yUnit: cy.unit || null,
    },
    origin: { x: cx.origin, y: cy.origin },
    pages,
    page: pageIndex,
    imageListIndex: entry.index,
    dataType,
    dimensions: entry.dims,
    ...(entry.planes > 1 ? { plane } : {}),
    ...(title ? { title } : {}),
    ...microscopeInfo(entry.node),
  };
  return {
    format: header.version === 4 ? 'DM4' : 'DM3',
    width,
    height,
    dtype,
    data: pixels,
    pixelSize: nmX !== null && nmY !== null ? { x: nmX, y: nmY } : null,
    metadata,
  };
}
