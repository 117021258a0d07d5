import { EmsegError, type EmsegErrorCode } from '../errors.ts';
import type { Hdf5DType, Hdf5Node } from './hdf5.ts';
import { MAX_PIXELS, checkImageSize, toNanometres } from './limits.ts';
import { allocatePixels } from './pixels.ts';
import { decodeText } from './tiff.ts';
import type { EmImage, PixelArray, PixelDType, PixelSize, ReadOptions } from './types.ts';

/**
 * EMD readers over the `Hdf5Node` interface (runtime-free; Node supplies h5wasm).
 *
 * - Velox (Thermo Fisher): `/Data/Image/<uuid>/Data` laid out [y][x][frame], with
 *   `/Data/Image/<uuid>/Metadata`, NUL-padded JSON stored as uint8 (one column per frame). The
 *   pixel size is `BinaryResult.PixelSize.{width,height}` in `PixelUnitX/Y`. A file can hold several
 *   image groups, e.g. an image plus its complex FFT; only real-valued ones are images here. Groups
 *   are keyed by UUID, so they are taken in name order (what h5py and rosettasciio list).
 * - Berkeley EMD v0.2 (NCEM): groups with attribute `emd_group_type = 1` holding `data` and one
 *   coordinate vector `dimN` per axis (dim1 = first array axis = rows), each with a `units`
 *   attribute written with underscores (`n_m` for nm). Pixel size = dim[1] - dim[0], as ncempy.
 *
 * Pages: every frame of every real image, in order (`options.page` picks one; default 0).
 */

const PIXEL_DTYPES: ReadonlySet<Hdf5DType> = new Set<Hdf5DType>(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64']);
/** Bound on the groups visited looking for Berkeley EMD data groups. */
const MAX_NODES = 10_000;
const MAX_DEPTH = 8;
/** Velox metadata blocks are 60000 bytes a frame; anything far larger is not metadata. */
const MAX_METADATA_BYTES = 1 << 26;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(code: EmsegErrorCode, name: string, message: string, path?: string): never {
  throw new EmsegError(code, `${name}: ${message}`, path === undefined ? { file: name } : { file: name, path });
}

/** A scalar attribute value as a number (numbers, bigints and one-element arrays). */
function attrNumber(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length >= 1) return attrNumber((v as unknown as ArrayLike<unknown>)[0]);
  if (Array.isArray(v) && v.length >= 1) return attrNumber(v[0]);
  return null;
}

function attrString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  if (v instanceof Uint8Array) return decodeText(v);
  return null;
}

/** Reads a numeric dataset after checking its element count against `expected`. */
function readPixels(node: Hdf5Node, expected: number, name: string): PixelArray {
  const v = node.read();
  if (typeof v === 'string' || Array.isArray(v) || v instanceof BigInt64Array || v instanceof BigUint64Array) {
    return fail('EMSEG_FORMAT_UNSUPPORTED', name, `${node.path} does not hold numbers emseg reads`, node.path);
  }
  if (v.length < expected) {
    return fail('EMSEG_FORMAT_TRUNCATED', name, `${node.path} holds ${v.length} values, its shape needs ${expected}`, node.path);
  }
  return v;
}

/** The pixel count must be allocatable (and the whole dataset too, since HDF5 reads it whole). */
function checkSize(width: number, height: number, frames: number, name: string): void {
  checkImageSize(width, height, name, frames);
  if (width * height * frames > MAX_PIXELS) {
    fail('EMSEG_IMAGE_TOO_LARGE', name, `dataset of ${width} x ${height} x ${frames} pixels is more than the limit of ${MAX_PIXELS}`);
  }
}

/** An image dataset of `frames` frames of width x height: [frame][y][x] ('first') or [y][x][frame] ('last'). */
interface FrameStack {
  data: Hdf5Node;
  width: number;
  height: number;
  frames: number;
  dtype: PixelDType;
  frameAxis: 'first' | 'last';
}

/** Frame `frame` of `image` as the pixel part of an EmImage, after checking its size (HDF5 reads the whole dataset). */
function readFrame(image: FrameStack, frame: number, name: string): Pick<EmImage, 'width' | 'height' | 'dtype' | 'data'> {
  const { width, height, frames, dtype } = image;
  checkSize(width, height, frames, name);
  const all = readPixels(image.data, width * height * frames, name);
  const n = width * height;
  let data: PixelArray;
  if (frames === 1) data = all.length === n ? all : all.slice(0, n);
  else if (image.frameAxis === 'first') data = all.slice(frame * n, (frame + 1) * n);
  else {
    data = allocatePixels(dtype, n);
    for (let i = 0, j = frame; i < n; i++, j += frames) data[i] = all[j];
  }
  return { width, height, dtype, data };
}

/** `n_m` -> `nm`, `[u_m]` -> `µm`, `1/n_m` -> `1/nm`; null for empty / pixel units. */
export function normalizeEmdUnit(raw: string | null): string | null {
  if (raw === null) return null;
  let u = raw.replace(/[_[\]]/g, '').trim();
  if (u === '' || /^(px|pixels?)$/i.test(u)) return null;
  u = u.replace(/^(1\/)?(um|micron|microns)$/i, (_, inv: string | undefined) => `${inv ?? ''}\u00b5m`);
  u = u.replace(/^(1\/)?(A|angstrom)$/, (_, inv: string | undefined) => `${inv ?? ''}\u00c5`);
  return u;
}

/** The pixel size in nm, or null unless both axes are lengths. */
function pixelSizeNm(x: number, unitX: string | null, y: number, unitY: string | null): PixelSize | null {
  const nx = toNanometres(Math.abs(x), unitX);
  const ny = toNanometres(Math.abs(y), unitY);
  return nx !== null && ny !== null ? { x: nx, y: ny } : null;
}

// ---------------------------------------------------------------------------------------------
// Velox
// ---------------------------------------------------------------------------------------------

/** Velox data are [y][x][frame]. */
interface VeloxImage extends FrameStack {
  group: string;
  node: Hdf5Node;
  frameAxis: 'last';
}

function veloxMetadata(group: Hdf5Node, frame: number, frames: number, name: string): Obj | null {
  const node = group.get('Metadata');
  if (!node || !node.isDataset || node.dtype !== 'uint8' || !node.shape) return null;
  const total = node.shape.reduce((a, b) => a * b, 1);
  if (!(total > 0 && total <= MAX_METADATA_BYTES)) return null;
  const raw = node.read();
  if (!(raw instanceof Uint8Array)) return null;
  // Shape [bytes, columns]: one metadata block per frame, stored as columns.
  const columns = node.shape.length === 2 ? node.shape[1] : 1;
  const column = columns === frames ? frame : 0;
  const rows = Math.floor(raw.length / columns);
  const bytes = columns === 1 ? raw : Uint8Array.from({ length: rows }, (_, i) => raw[i * columns + column]);
  const text = decodeText(bytes).trim();
  if (!text) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return isObj(parsed) ? parsed : null;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: ${node.path} is not valid JSON (${(e as Error).message})`, { file: name, path: node.path, cause: e });
  }
}

function readVelox(root: Hdf5Node, imageGroups: Hdf5Node, options: ReadOptions, name: string): EmImage {
  const images: VeloxImage[] = [];
  const skipped: { group: string; reason: string }[] = [];
  for (const key of imageGroups.keys()) {
    const node = imageGroups.get(key);
    const data = node?.get('Data');
    if (!node || !data || !data.isDataset || !data.shape) {
      skipped.push({ group: key, reason: 'no Data dataset' });
      continue;
    }
    const shape = data.shape;
    if (data.dtype === null || !PIXEL_DTYPES.has(data.dtype)) {
      skipped.push({ group: key, reason: data.dtype === 'compound' ? 'complex-valued (e.g. an FFT)' : `element type ${String(data.dtype)}` });
      continue;
    }
    if (shape.length !== 2 && shape.length !== 3) {
      skipped.push({ group: key, reason: `shape [${shape.join(', ')}] is not an image` });
      continue;
    }
    const [height, width] = shape;
    const frames = shape.length === 3 ? shape[2] : 1;
    images.push({ group: key, node, data, width, height, frames, dtype: data.dtype as PixelDType, frameAxis: 'last' });
  }
  if (images.length === 0) {
    const why = skipped.length ? skipped.map((s) => `${s.group}: ${s.reason}`).join('; ') : 'no image groups';
    fail('EMSEG_FORMAT_UNSUPPORTED', name, `Velox file holds no real-valued image under /Data/Image (${why})`);
  }
  const { image, frame, page, pages } = locatePage(images, options.page, name);
  const pixels = readFrame(image, frame, name);
  const { frames } = image;

  const meta = veloxMetadata(image.node, frame, frames, name);
  const binary = isObj(meta?.BinaryResult) ? meta.BinaryResult : {};
  const size = isObj(binary.PixelSize) ? binary.PixelSize : {};
  const sx = Number(size.width);
  const sy = Number(size.height);
  const unitX = typeof binary.PixelUnitX === 'string' ? binary.PixelUnitX : null;
  const unitY = typeof binary.PixelUnitY === 'string' ? binary.PixelUnitY : unitX;
  let calibration: { x: number; y: number; unit: string } | null = null;
  let pixelSize: { x: number; y: number } | null = null;
  if (Number.isFinite(sx) && sx > 0 && unitX) {
    const y = Number.isFinite(sy) && sy > 0 ? sy : sx;
    calibration = { x: sx, y, unit: unitX };
    pixelSize = pixelSizeNm(sx, unitX, y, unitY);
  }
  const offset = isObj(binary.Offset) ? binary.Offset : {};
  const ox = Number(offset.x);
  const oy = Number(offset.y);
  const version = root.get('Version');
  let veloxVersion: unknown = null;
  if (version?.isDataset && version.dtype === 'string') {
    const v = version.read();
    const text = typeof v === 'string' ? v : Array.isArray(v) ? v[0] : '';
    try {
      veloxVersion = JSON.parse(text);
    } catch {
      veloxVersion = text;
    }
  }
  return {
    format: 'EMD-Velox',
    ...pixels,
    pixelSize,
    metadata: {
      calibration,
      ...(calibration && Number.isFinite(ox) && Number.isFinite(oy) ? { origin: { x: -ox / calibration.x, y: -oy / calibration.y } } : {}),
      pages,
      page,
      imageGroup: image.data.path.replace(/\/Data$/, ''),
      frame,
      frames,
      detector: typeof binary.Detector === 'string' ? binary.Detector : null,
      selection: `page ${page} of ${pages} real-valued image frame(s) under /Data/Image, groups in name order`,
      skipped,
      version: veloxVersion,
      velox: meta,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Berkeley EMD v0.2
// ---------------------------------------------------------------------------------------------

interface Axis {
  step: number | null;
  unit: string | null;
  rawUnit: string | null;
  name: string | null;
}

function dimAxis(group: Hdf5Node, index: number, length: number): Axis {
  const node = group.get(`dim${index + 1}`);
  const none: Axis = { step: null, unit: null, rawUnit: null, name: null };
  if (!node || !node.isDataset) return none;
  const rawUnit = attrString(node.attrs.units);
  const axis: Axis = { ...none, rawUnit, unit: normalizeEmdUnit(rawUnit), name: attrString(node.attrs.name) };
  const n = node.shape?.reduce((a, b) => a * b, 1) ?? 0;
  if (n < 2 || n > Math.max(length, 2) * 4 || node.dtype === null || !PIXEL_DTYPES.has(node.dtype)) return axis;
  const v = node.read();
  if (typeof v === 'string' || Array.isArray(v) || v instanceof BigInt64Array || v instanceof BigUint64Array || v.length < 2) return axis;
  const step = Number(v[1]) - Number(v[0]);
  return Number.isFinite(step) && step !== 0 ? { ...axis, step: Math.abs(step) } : axis;
}

function isLength(axis: Axis): boolean {
  return axis.unit !== null && toNanometres(1, axis.unit) !== null;
}

function findEmdGroups(root: Hdf5Node): Hdf5Node[] {
  const out: Hdf5Node[] = [];
  let visited = 0;
  const walk = (node: Hdf5Node, depth: number): void => {
    if (visited++ >= MAX_NODES || node.isDataset) return;
    if (attrNumber(node.attrs.emd_group_type) === 1) {
      out.push(node);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    for (const key of node.keys()) {
      const child = node.get(key);
      if (child && !child.isDataset) walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

interface BerkeleyImage extends FrameStack {
  group: Hdf5Node;
  x: Axis;
  y: Axis;
}

function readBerkeley(root: Hdf5Node, groups: Hdf5Node[], options: ReadOptions, name: string): EmImage {
  const images: BerkeleyImage[] = [];
  const skipped: { group: string; reason: string }[] = [];
  for (const group of groups) {
    const data = group.get('data');
    if (!data || !data.isDataset || !data.shape) {
      skipped.push({ group: group.path, reason: 'no data dataset' });
      continue;
    }
    if (data.dtype === null || !PIXEL_DTYPES.has(data.dtype)) {
      skipped.push({ group: group.path, reason: `element type ${String(data.dtype)}` });
      continue;
    }
    const shape = data.shape;
    if (shape.length === 2) {
      images.push({ group, data, height: shape[0], width: shape[1], frames: 1, dtype: data.dtype as PixelDType, frameAxis: 'first', y: dimAxis(group, 0, shape[0]), x: dimAxis(group, 1, shape[1]) });
    } else if (shape.length === 3) {
      // [frame][y][x] unless the last axis is the one without a length unit while the first two have one.
      const axes = shape.map((n, i) => dimAxis(group, i, n));
      const last = !isLength(axes[2]) && isLength(axes[0]) && isLength(axes[1]);
      images.push(
        last
          ? { group, data, height: shape[0], width: shape[1], frames: shape[2], dtype: data.dtype as PixelDType, frameAxis: 'last', y: axes[0], x: axes[1] }
          : { group, data, height: shape[1], width: shape[2], frames: shape[0], dtype: data.dtype as PixelDType, frameAxis: 'first', y: axes[1], x: axes[2] },
      );
    } else {
      skipped.push({ group: group.path, reason: `data shape [${shape.join(', ')}] is not an image or image stack` });
    }
  }
  if (images.length === 0) {
    const why = skipped.length ? skipped.map((s) => `${s.group}: ${s.reason}`).join('; ') : 'no groups with emd_group_type = 1';
    fail('EMSEG_FORMAT_UNSUPPORTED', name, `Berkeley EMD file holds no image (${why})`);
  }
  const { image, frame, page, pages } = locatePage(images, options.page, name);
  const pixels = readFrame(image, frame, name);
  const { frames, x, y } = image;
  let calibration: { x: number; y: number; unit: string; yUnit?: string } | null = null;
  let pixelSize: { x: number; y: number } | null = null;
  if (x.step !== null && y.step !== null && x.unit !== null) {
    calibration = { x: x.step, y: y.step, unit: x.unit, ...(y.unit !== x.unit && y.unit !== null ? { yUnit: y.unit } : {}) };
    pixelSize = pixelSizeNm(x.step, x.unit, y.step, y.unit);
  }
  const major = attrNumber(root.attrs.version_major);
  const minor = attrNumber(root.attrs.version_minor);
  return {
    format: 'EMD-Berkeley',
    ...pixels,
    pixelSize,
    metadata: {
      calibration,
      rawUnits: { x: x.rawUnit, y: y.rawUnit },
      axisNames: { x: x.name, y: y.name },
      pages,
      page,
      dataGroup: image.group.path,
      frame,
      frames,
      version: major !== null && minor !== null ? `${major}.${minor}` : null,
      skipped,
    },
  };
}

/**
 * Pages are the frames of all images in order. Resolves `page` (default 0) to an image and frame
 * without enumerating frames (a corrupt header may declare billions); anything but an integer in
 * [0, pages) throws EMSEG_INVALID_ARGUMENT naming the file.
 */
function locatePage<T extends { frames: number; data: Hdf5Node }>(images: T[], requested: number | undefined, name: string): { image: T; frame: number; page: number; pages: number } {
  let pages = 0;
  for (const image of images) {
    if (!(Number.isSafeInteger(image.frames) && image.frames >= 0)) fail('EMSEG_FORMAT_BAD_HEADER', name, `${image.data.path} declares ${image.frames} frames`, image.data.path);
    pages += image.frames;
  }
  const page = requested ?? 0;
  if (!Number.isSafeInteger(page) || page < 0 || page >= pages) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: page ${String(page)} requested, but the EMD file holds ${pages} image${pages === 1 ? '' : 's'}`, { file: name });
  }
  let rest = page;
  for (const image of images) {
    if (rest < image.frames) return { image, frame: rest, page, pages };
    rest -= image.frames;
  }
  throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: page ${page} not found`, { file: name });
}

/**
 * Reads one image from an EMD file, given its HDF5 root: Velox when `/Data/Image` exists, Berkeley
 * EMD when a group has `emd_group_type = 1`; anything else is EMSEG_FORMAT_UNKNOWN.
 */
export function readEmd(root: Hdf5Node, options: ReadOptions = {}): EmImage {
  const name = options.name ?? 'EMD data';
  const imageGroups = root.get('Data')?.get('Image') ?? null;
  if (imageGroups && !imageGroups.isDataset) return readVelox(root, imageGroups, options, name);
  const groups = findEmdGroups(root);
  if (groups.length > 0) return readBerkeley(root, groups, options, name);
  return fail('EMSEG_FORMAT_UNKNOWN', name, 'HDF5 file is neither Velox EMD (no /Data/Image group) nor Berkeley EMD (no group with emd_group_type = 1)');
}
