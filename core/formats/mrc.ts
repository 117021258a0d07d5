import { EmsegError } from '../errors.ts';
import { ByteReader } from './byte-reader.ts';
import { BYTES_PER_PIXEL, checkImageSize, toNanometres } from './limits.ts';
import { copyHalfPixels, copyPixels, latin1, pickPage } from './pixels.ts';
import type { EmImage, PixelArray, PixelDType, ReadOptions } from './types.ts';

/**
 * MRC / MRCS / CCP4 map reader (`.mrc`, `.mrcs`, `.map`, `.st`...), written by hand: no JavaScript
 * library reads these files. Layout followed: the MRC2014 specification (Cheng et al. 2015, J. Struct.
 * Biol. 192:146, and www.ccpem.ac.uk/mrc_format/mrc2014.php), cross-read with ccpem/mrcfile's
 * `mrcfile/dtypes.py` / `utils.py`:
 *
 *   1024-byte header of 4-byte words: NX NY NZ (columns, rows, sections) MODE, NXSTART NYSTART NZSTART,
 *   MX MY MZ (sampling), CELLA (3 x f32, Å) CELLB (3 x f32, degrees), MAPC MAPR MAPS, DMIN DMAX DMEAN,
 *   ISPG, NSYMBT (extended header bytes) at 92, EXTRA (EXTTYP at 104, NVERSION at 108), ORIGIN (3 x f32,
 *   Å) at 196, "MAP " at 208, machine stamp at 212, RMS at 216, NLABL at 220, ten 80-byte labels at 224.
 *   Pixels follow the extended header (1024 + NSYMBT), columns fastest, one section after another.
 *
 * Modes read: 0 int8 (uint8 when an IMOD header says its bytes are unsigned), 1 int16, 2 float32,
 * 6 uint16, 12 float16 (converted to float32). Complex modes (3, 4) and packed 4-bit (101) are refused.
 *
 * Byte order: the machine stamp (0x44 0x44 / 0x44 0x41 little-endian, 0x11 0x11 big-endian). Many
 * writers leave it zero (RELION, cryoDRGN): then the header is read little-endian if that gives a known
 * MODE and sane sizes, else big-endian if that does, else little-endian (and the MODE check fails).
 *
 * Pages are the NZ sections: images of an MRCS stack or z-slices of a volume. Rows are returned in
 * stored order (row 0 = first stored row), as mrcfile, RELION and rosettasciio present them.
 * Pixel size = CELLA / MX (Å per pixel, mapped through MAPC/MAPR when the axes are permuted); a zero
 * cell or sampling means uncalibrated. Placeholder sizes (cell = N x 1 Å) are reported as stored.
 */

const HEADER_BYTES = 1024;
const MRC_DTYPES: Readonly<Record<number, PixelDType>> = { 0: 'int8', 1: 'int16', 2: 'float32', 6: 'uint16', 12: 'float32' };
const MRC_UNSUPPORTED: Readonly<Record<number, string>> = {
  3: 'complex int16', 4: 'complex float32', 101: 'packed 4-bit', 16: 'RGB uint8',
};
/** Bytes per stored pixel, per mode (float16 is 2 bytes on disk). */
const MODE_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 2, 2: 4, 6: 2, 12: 2, 3: 4, 4: 8, 16: 3 };
const IMOD_STAMP = 1146047817;
const MAX_DIM = 2 ** 24;

interface MrcHeader {
  littleEndian: boolean;
  nx: number;
  ny: number;
  nz: number;
  mode: number;
  nsymbt: number;
}

function peekHeader(bytes: Uint8Array, littleEndian: boolean): MrcHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    littleEndian,
    nx: v.getInt32(0, littleEndian),
    ny: v.getInt32(4, littleEndian),
    nz: v.getInt32(8, littleEndian),
    mode: v.getInt32(12, littleEndian),
    nsymbt: v.getInt32(92, littleEndian),
  };
}

function plausible(h: MrcHeader): boolean {
  return (
    MODE_BYTES[h.mode] !== undefined &&
    [h.nx, h.ny, h.nz].every((n) => n > 0 && n < MAX_DIM) &&
    h.nsymbt >= 0
  );
}

/** Byte order from the machine stamp, or sniffed from MODE and sizes when the stamp is zero/unknown. */
function byteOrder(bytes: Uint8Array): { littleEndian: boolean; source: 'stamp' | 'sniffed' } {
  if (bytes[212] === 0x44) return { littleEndian: true, source: 'stamp' };
  if (bytes[212] === 0x11) return { littleEndian: false, source: 'stamp' };
  if (plausible(peekHeader(bytes, true))) return { littleEndian: true, source: 'sniffed' };
  if (plausible(peekHeader(bytes, false))) return { littleEndian: false, source: 'sniffed' };
  return { littleEndian: true, source: 'sniffed' };
}

/**
 * Cheap check: "MAP " at byte 208, or (for writers that omit it) a known MODE, sane sizes, an axis
 * order that is a permutation of 1,2,3, and a file long enough for the pixels it declares.
 */
export function isMrc(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER_BYTES) return false;
  if (latin1(bytes, 208, 212) === 'MAP ') return true;
  const order = byteOrder(bytes);
  const h = peekHeader(bytes, order.littleEndian);
  if (!plausible(h)) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const axes = [64, 68, 72].map((o) => v.getInt32(o, order.littleEndian)).sort();
  if (axes.join() !== '1,2,3') return false;
  return HEADER_BYTES + h.nsymbt + h.nx * h.ny * h.nz * MODE_BYTES[h.mode] <= bytes.length;
}

function badHeader(name: string, message: string): EmsegError {
  return new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: ${message}`, { file: name });
}

/** Reads one section (`options.page`, default 0) of an MRC image, stack or volume. */
export function readMrc(bytes: Uint8Array, options: ReadOptions = {}): EmImage {
  const name = options.name ?? 'MRC data';
  const r = new ByteReader(bytes, name);
  r.need(HEADER_BYTES, 'the end of the 1024-byte MRC header', 0);
  const order = byteOrder(bytes);
  r.littleEndian = order.littleEndian;

  const nx = r.i32('NX');
  const ny = r.i32('NY');
  const nz = r.i32('NZ');
  const mode = r.i32('MODE');
  const start = { x: r.i32('NXSTART'), y: r.i32('NYSTART'), z: r.i32('NZSTART') };
  const sampling = [r.i32('MX'), r.i32('MY'), r.i32('MZ')];
  const cell = [r.f32('CELLA'), r.f32('CELLA'), r.f32('CELLA')];
  r.skip(12, 'CELLB');
  const axes = [r.i32('MAPC'), r.i32('MAPR'), r.i32('MAPS')];
  const dmin = r.f32('DMIN');
  const dmax = r.f32('DMAX');
  const dmean = r.f32('DMEAN');
  const ispg = r.i32('ISPG');
  const nsymbt = r.i32('NSYMBT');
  const exttyp = latin1(bytes, 104, 108).replace(/\0+$/, '');
  const nversion = r.seek(108).i32('NVERSION');
  const imodStamp = r.seek(152).i32('IMOD stamp');
  const imodFlags = r.i32('IMOD flags');
  const originAngstrom = { x: r.seek(196).f32('ORIGIN'), y: r.f32('ORIGIN'), z: r.f32('ORIGIN') };
  const rms = r.seek(216).f32('RMS');
  const nlabl = r.i32('NLABL');

  for (const [label, n] of [['NX', nx], ['NY', ny], ['NZ', nz]] as const) {
    if (!(n > 0)) throw badHeader(name, `MRC header declares ${label} = ${n}; expected a positive size (byte order ${order.littleEndian ? 'little' : 'big'}-endian, ${order.source === 'stamp' ? 'from the machine stamp' : 'guessed: the machine stamp is not set'})`);
  }
  checkImageSize(nx, ny, name, nz);

  const unsupported = MRC_UNSUPPORTED[mode];
  if (unsupported !== undefined) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: MRC MODE is ${mode} (${unsupported} pixels); emseg reads modes 0, 1, 2, 6 and 12`, { file: name });
  }
  let dtype = MRC_DTYPES[mode];
  if (dtype === undefined) throw badHeader(name, `MRC MODE is ${mode}, not a known MRC data mode (expected 0, 1, 2, 6 or 12)`);
  // IMOD marks signed bytes with bit 0 of its flags; an IMOD header without it means unsigned bytes.
  if (mode === 0 && imodStamp === IMOD_STAMP && (imodFlags & 1) === 0) dtype = 'uint8';
  if (nsymbt < 0) throw badHeader(name, `MRC NSYMBT (extended header size) is ${nsymbt}; expected >= 0`);

  const page = pickPage(options.page, nz, name);
  const storedBytes = mode === 12 ? 2 : BYTES_PER_PIXEL[dtype];
  const sectionBytes = nx * ny * storedBytes;
  const dataOffset = HEADER_BYTES + nsymbt;
  const needed = dataOffset + sectionBytes * nz;
  if (needed > bytes.length) {
    throw new EmsegError(
      'EMSEG_FORMAT_TRUNCATED',
      `${name}: MRC header declares ${nx} x ${ny} x ${nz} MODE ${mode} pixels after a ${nsymbt}-byte extended header (${needed} bytes), but the file has ${bytes.length}`,
      { file: name },
    );
  }
  const offset = dataOffset + page * sectionBytes;
  const data: PixelArray = mode === 12
    ? copyHalfPixels(bytes, offset, nx, ny, order.littleEndian, name)
    : copyPixels(bytes, { offset, width: nx, height: ny, dtype, littleEndian: order.littleEndian }, name);

  // Columns, rows and sections hold the X/Y/Z axes named by MAPC/MAPR/MAPS (normally 1, 2, 3).
  const axisOrder = [...axes].sort().join() === '1,2,3' ? axes : [1, 2, 3];
  const spacing = axisOrder.map((a) => {
    const s = cell[a - 1] / sampling[a - 1];
    return Number.isFinite(s) && s > 0 ? s : null;
  });
  const [sx, sy, sz] = spacing;
  const nmX = sx === null ? null : toNanometres(sx, 'Å');
  const nmY = sy === null ? null : toNanometres(sy, 'Å');
  const labels: string[] = [];
  for (let i = 0; i < Math.min(Math.max(nlabl, 0), 10); i++) {
    const l = latin1(bytes, 224 + 80 * i, 304 + 80 * i).replace(/[\0\s]+$/, '');
    if (l) labels.push(l);
  }
  const calibrated = sx !== null && sy !== null;
  const metadata: Record<string, unknown> = {
    calibration: { x: calibrated ? sx : 1, y: calibrated ? sy : 1, z: sz, unit: calibrated ? 'Å' : null },
    pages: nz,
    page,
    mode,
    ...(mode === 12 ? { storedDtype: 'float16' } : {}),
    spaceGroup: ispg,
    littleEndian: order.littleEndian,
    byteOrderSource: order.source,
    axisOrder,
    start,
    originAngstrom,
    // DMAX < DMIN and RMS < 0 are the standard "not computed" markers.
    ...(dmax >= dmin ? { statistics: { min: dmin, max: dmax, mean: dmean, ...(rms >= 0 ? { rms } : {}) } } : {}),
    ...(nsymbt > 0 ? { extendedHeader: { type: exttyp || null, bytes: nsymbt } } : {}),
    ...(nversion ? { version: nversion } : {}),
    ...(labels.length ? { labels } : {}),
  };
  return {
    format: 'MRC',
    width: nx,
    height: ny,
    dtype,
    data,
    pixelSize: nmX !== null && nmY !== null ? { x: nmX, y: nmY } : null,
    metadata,
  };
}
