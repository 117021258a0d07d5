import { EmsegError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import { BYTES_PER_PIXEL, checkImageSize, toNanometres } from './limits.ts';
import { copyPixels, latin1, pickPage } from './pixels.ts';
import type { EmImage, PixelDType, ReadOptions } from './types.ts';

/**
 * FEI / Thermo Fisher TIA `.ser` reader (series of 2-D images), written by hand: no JavaScript library
 * reads these files. Layout followed: Dr Chris Boothroyd's published "SER file format" description
 * (Ernst Ruska-Centre), as also implemented by ncempy `ncempy/io/ser.py` and rosettasciio
 * `rsciio/tia/_api.py`. All fields little-endian:
 *
 *   header   ByteOrder u16 (0x4949), SeriesID u16 (0x0197), SeriesVersion u16 (0x0210 old, 0x0220 new),
 *            DataTypeID u32 (0x4120 1-D spectra, 0x4122 2-D images), TagTypeID u32 (0x4152 time,
 *            0x4142 time + stage position), TotalNumberElements u32, ValidNumberElements u32,
 *            OffsetArrayOffset (u32, or u64 when SeriesVersion > 0x210), NumberDimensions u32
 *   then per dimension: DimensionSize u32, CalibrationOffset f64, CalibrationDelta f64,
 *            CalibrationElement i32, DescriptionLength u32, Description, UnitsLength u32, Units
 *   at OffsetArrayOffset: TotalNumberElements data offsets, then as many tag offsets (u32 / u64)
 *   2-D data element: CalibrationOffsetX f64, CalibrationDeltaX f64, CalibrationElementX i32, the same
 *            three for Y, DataType u16 (1 u8, 2 u16, 3 u32, 4 i8, 5 i16, 6 i32, 7 f32, 8 f64,
 *            9/10 complex), ArraySizeX u32, ArraySizeY u32, pixels (x fastest, rows bottom-up)
 *   tag:     TagTypeID u16, u16 (unused), Time u32 (Unix seconds), [PositionX f64, PositionY f64]
 *
 * Rows are stored bottom-up; they are flipped so row 0 is the top row as TIA displays it (rosettasciio
 * and ncempy both flipud). Pages are the ValidNumberElements entries of the series.
 *
 * Calibration: CalibrationDeltaX/Y are SI values, metres for images and 1/metres for diffraction
 * patterns, and NOTHING in the .ser says which (the image element has no unit field, and the series
 * dimension units describe the series axis, not the image). TIA records it in the companion `.emi`:
 * each data object carries a length-prefixed calibration-space label, "Real Space" or "Reciprocal
 * Space", next to the path of its `.ser` file. So:
 *   1. with `options.emi` (bytes of `<base>.emi` for `<base>_<n>.ser`), the label for this .ser file
 *      decides (source 'emi-label');
 *   2. failing a label, the .emi's microscope Mode decides as rosettasciio does it: "Diffraction" in a
 *      TEM mode, or a camera image in STEM mode, is reciprocal space (source 'emi-mode');
 *   3. without an .emi the magnitude decides: a step of 1 or more cannot be metres per pixel (no
 *      microscope image has metre-sized pixels) and is 1/metres, a diffraction pattern (source
 *      'magnitude'; rosettasciio would take it as metres and give a pixel of 1e17 nm); a step below 1
 *      is taken as metres (source 'assumed'). Callers that can should still pass the .emi.
 * The size of the value is never used to guess.
 */

const SERIES_ID = 0x0197;
const BYTE_ORDER = 0x4949;
const DATA_1D = 0x4120;
const DATA_2D = 0x4122;
const TAG_TIME_POSITION = 0x4142;
const ELEMENT_HEADER_BYTES = 50;

const SER_DTYPES: Readonly<Record<number, PixelDType>> = {
  1: 'uint8', 2: 'uint16', 3: 'uint32', 4: 'int8', 5: 'int16', 6: 'int32', 7: 'float32', 8: 'float64',
};
const SER_UNSUPPORTED: Readonly<Record<number, string>> = { 9: 'complex64', 10: 'complex128' };

export interface SerReadOptions extends ReadOptions {
  /**
   * Bytes of the companion `.emi` file (see serCompanionEmiPath). Used only to tell real-space from
   * reciprocal-space calibration; without it the calibration is assumed to be in metres.
   */
  emi?: Uint8Array;
}

export type CalibrationSpace = 'real' | 'reciprocal';

/** Cheap check: byte order mark 0x4949 and TIA series ID 0x0197. */
export function isSer(bytes: Uint8Array): boolean {
  return bytes.length >= 30 && bytes[0] === 0x49 && bytes[1] === 0x49 && bytes[2] === 0x97 && bytes[3] === 0x01;
}

/** `dir/base_1.ser` -> `dir/base.emi` (TIA's naming); null when the name does not follow it. */
export function serCompanionEmiPath(serPath: string): string | null {
  const m = /^(.*)_\d+\.ser$/i.exec(serPath);
  return m ? `${m[1]}.emi` : null;
}

function baseName(path: string): string {
  return (path.split(/[\\/]/).pop() ?? path).toLowerCase();
}

/**
 * Real or reciprocal space for `serName` from an .emi file: the length-prefixed "Real Space" /
 * "Reciprocal Space" label of the data object whose .ser path matches, else the only label present.
 */
function emiSpaceLabel(emi: Uint8Array, serName: string | undefined): CalibrationSpace | null {
  const text = latin1(emi);
  const view = new DataView(emi.buffer, emi.byteOffset, emi.byteLength);
  const found: { space: CalibrationSpace; ser: string | null }[] = [];
  for (const m of text.matchAll(/(Real|Reciprocal) Space/g)) {
    const at = m.index;
    // A genuine label is a string field: its uint32 length comes right before it.
    if (at < 4 || view.getUint32(at - 4, true) !== m[0].length) continue;
    const after = text.slice(at + m[0].length, at + m[0].length + 1024);
    const ser = /[\x20-\x7e\xa0-\xff]+\.ser/i.exec(after);
    found.push({ space: m[1] === 'Real' ? 'real' : 'reciprocal', ser: ser ? baseName(ser[0]) : null });
  }
  if (serName !== undefined) {
    const mine = found.find((f) => f.ser === baseName(serName));
    if (mine) return mine.space;
  }
  const spaces = new Set(found.map((f) => f.space));
  return spaces.size === 1 ? found[0].space : null;
}

/** rosettasciio's rule from the .emi ObjectInfo XML (first object): Mode, and whether a camera took it. */
function emiModeSpace(emi: Uint8Array, seriesIsScan: boolean): CalibrationSpace | null {
  const text = latin1(emi);
  const start = text.indexOf('<ObjectInfo>');
  if (start < 0) return null;
  const end = text.indexOf('</ObjectInfo>', start);
  const info = text.slice(start, end < 0 ? undefined : end);
  const mode = /<Label>Mode<\/Label>\s*<Value>([^<]*)<\/Value>/.exec(info)?.[1];
  if (mode === undefined) return null;
  if (mode.includes('STEM')) return info.includes('<CameraNamePath>') || seriesIsScan ? 'reciprocal' : 'real';
  return mode.includes('Diffraction') ? 'reciprocal' : 'real';
}

function badHeader(name: string, message: string): EmsegError {
  return new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: ${message}`, { file: name });
}

interface SerDimension {
  size: number;
  calibrationOffset: number;
  calibrationDelta: number;
  calibrationElement: number;
  description: string;
  units: string;
}

/** Reads one image (`options.page`, default 0) of a TIA series. */
export function readSer(bytes: Uint8Array, options: SerReadOptions = {}): EmImage {
  const name = options.name ?? 'SER data';
  const r = new ByteReader(bytes, name, true);
  const byteOrder = r.u16('the SER byte-order field');
  const seriesId = r.u16('the SER series ID');
  if (byteOrder !== BYTE_ORDER || seriesId !== SERIES_ID) {
    throw badHeader(name, `not a TIA .ser file: ByteOrder/SeriesID are 0x${byteOrder.toString(16)}/0x${seriesId.toString(16)}, expected 0x4949/0x197`);
  }
  const version = r.u16('SeriesVersion');
  if (version < 0x200 || version > 0x2ff) throw badHeader(name, `SeriesVersion is 0x${version.toString(16)}, expected 0x210 or 0x220`);
  const wide = version > 0x210;
  const dataTypeId = r.u32('DataTypeID');
  const tagTypeId = r.u32('TagTypeID');
  const total = r.u32('TotalNumberElements');
  const valid = r.u32('ValidNumberElements');
  const offsetArrayOffset = wide ? r.u64('OffsetArrayOffset') : r.u32('OffsetArrayOffset');
  const nDims = r.u32('NumberDimensions');
  if (dataTypeId === DATA_1D) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: DataTypeID is 0x4120 (a series of 1-D spectra); emseg reads 2-D images (0x4122)`, { file: name });
  }
  if (dataTypeId !== DATA_2D) throw badHeader(name, `DataTypeID is 0x${dataTypeId.toString(16)}, expected 0x4122 (2-D images)`);
  if (valid > total) throw badHeader(name, `ValidNumberElements (${valid}) exceeds TotalNumberElements (${total})`);

  // Every dimension record takes at least 32 bytes, so the loop ends at the file's end at the latest.
  const dims: SerDimension[] = [];
  for (let i = 0; i < nDims; i++) {
    const size = r.u32(`DimensionSize of dimension ${i}`);
    const calibrationOffset = r.f64(`CalibrationOffset of dimension ${i}`);
    const calibrationDelta = r.f64(`CalibrationDelta of dimension ${i}`);
    const calibrationElement = r.i32(`CalibrationElement of dimension ${i}`);
    const description = r.ascii(r.u32(`DescriptionLength of dimension ${i}`), `Description of dimension ${i}`);
    const units = r.ascii(r.u32(`UnitsLength of dimension ${i}`), `Units of dimension ${i}`);
    dims.push({ size, calibrationOffset, calibrationDelta, calibrationElement, description, units });
  }

  const page = pickPage(options.page, valid, name);
  const word = wide ? 8 : 4;
  r.need(2 * total * word, 'the data and tag offset arrays', offsetArrayOffset);
  const readOffset = (i: number, what: string) => {
    r.seek(offsetArrayOffset + i * word);
    return wide ? r.u64(what) : r.u32(what);
  };
  const dataOffset = readOffset(page, `the data offset of element ${page}`);
  const tagOffset = readOffset(total + page, `the tag offset of element ${page}`);

  r.need(ELEMENT_HEADER_BYTES, `the header of data element ${page}`, dataOffset);
  r.seek(dataOffset);
  const offX = r.f64('CalibrationOffsetX');
  const deltaX = r.f64('CalibrationDeltaX');
  const elemX = r.i32('CalibrationElementX');
  const offY = r.f64('CalibrationOffsetY');
  const deltaY = r.f64('CalibrationDeltaY');
  const elemY = r.i32('CalibrationElementY');
  const dataType = r.u16('DataType');
  const width = r.u32('ArraySizeX');
  const height = r.u32('ArraySizeY');
  const unsupported = SER_UNSUPPORTED[dataType];
  if (unsupported !== undefined) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: data element ${page} has DataType ${dataType} (${unsupported} pixels); emseg reads real-valued images only`, { file: name });
  }
  const dtype = SER_DTYPES[dataType];
  if (dtype === undefined) throw badHeader(name, `data element ${page} has DataType ${dataType}, expected 1-8`);
  checkImageSize(width, height, name);
  r.need(width * height * BYTES_PER_PIXEL[dtype], `the ${width} x ${height} ${dtype} pixels of data element ${page}`);
  const data = copyPixels(bytes, { offset: r.pos, width, height, dtype, littleEndian: true, flipRows: true }, name);

  // Tag (acquisition time, stage position): optional metadata, read only when it lies inside the file.
  const extra: Record<string, unknown> = {};
  const tagBytes = tagTypeId === TAG_TIME_POSITION ? 24 : 8;
  if (tagOffset > 0 && tagOffset + tagBytes <= bytes.length) {
    r.seek(tagOffset);
    const id = r.u16('TagTypeID');
    r.skip(2);
    const time = r.u32('Time');
    if (id === tagTypeId && time > 0) extra.acquisitionTime = new Date(time * 1000).toISOString();
    if (id === TAG_TIME_POSITION) extra.stagePosition = { x: r.f64('PositionX'), y: r.f64('PositionY'), unit: 'm' };
  }

  let space: CalibrationSpace = 'real';
  let spaceSource: 'emi-label' | 'emi-mode' | 'magnitude' | 'assumed' = 'assumed';
  if (options.emi) {
    const seriesIsScan = dims.length > 0 && dims[0].size > 1 && dims[0].units.length > 0;
    const label = emiSpaceLabel(options.emi, options.name);
    const mode = label === null ? emiModeSpace(options.emi, seriesIsScan) : null;
    if (label !== null) [space, spaceSource] = [label, 'emi-label'];
    else if (mode !== null) [space, spaceSource] = [mode, 'emi-mode'];
  }
  if (spaceSource === 'assumed' && Math.max(Math.abs(deltaX), Math.abs(deltaY)) >= 1) [space, spaceSource] = ['reciprocal', 'magnitude'];
  // SI to the conventional unit: metres -> nm, 1/metres -> 1/nm.
  const factor = space === 'real' ? 1e9 : 1e-9;
  const calibrated = deltaX > 0 && deltaY > 0 && Number.isFinite(deltaX) && Number.isFinite(deltaY);
  const nmX = space === 'real' ? toNanometres(deltaX, 'm') : null;
  const nmY = space === 'real' ? toNanometres(deltaY, 'm') : null;
  const metadata: Record<string, unknown> = {
    calibration: calibrated
      ? { x: deltaX * factor, y: deltaY * factor, unit: space === 'real' ? 'nm' : '1/nm' }
      : { x: 1, y: 1, unit: null },
    calibrationSpace: space,
    calibrationSpaceSource: spaceSource,
    // Physical coordinate (same unit) of pixel CalibrationElement, in STORED (bottom-up) row order.
    calibrationOffset: { x: offX * factor, y: offY * factor },
    calibrationElement: { x: elemX, y: elemY },
    pages: valid,
    page,
    seriesVersion: version,
    dataType,
    ...(total !== valid ? { totalElements: total } : {}),
    ...(dims.length ? { seriesDimensions: dims.map((d) => ({ size: d.size, description: d.description, units: d.units })) } : {}),
    ...extra,
  };
  return {
    format: 'SER',
    width,
    height,
    dtype,
    data,
    pixelSize: calibrated && nmX !== null && nmY !== null ? { x: nmX, y: nmY } : null,
    metadata,
  };
}
