import { EmsegError } from '../errors.ts';
import type { PixelArray, PixelDType } from './types.ts';

/**
 * The little of HDF5 that EMD parsing needs, as an interface, so `emd.ts` stays runtime-free and
 * testable with an in-memory tree: Node implements it with h5wasm (`sdk-node/hdf5-h5wasm.ts`), a
 * browser build can do the same with h5wasm's ESM build. Nothing here reads HDF5 itself except the
 * signature and superblock checks, which let a caller refuse a non-HDF5 or truncated file with a
 * clear error before handing it to the HDF5 library (which would print a C error stack and throw
 * an unhelpful message).
 */

/** Element type of a dataset, as emseg sees it. `compound` covers Velox's complex FFT images. */
export type Hdf5DType = PixelDType | 'int64' | 'uint64' | 'string' | 'compound' | 'other';

/** What `read()` returns: numbers in native byte order, or strings for string datasets. */
export type Hdf5Value = PixelArray | BigInt64Array | BigUint64Array | string | string[];

export interface Hdf5Node {
  /** Absolute path inside the file, e.g. `/Data/Image/8874.../Data`. */
  readonly path: string;
  readonly isDataset: boolean;
  /** Child names of a group, sorted; `[]` for a dataset. */
  keys(): string[];
  /** A descendant by relative path (`a/b/c`), or null when there is none (or it is a link or a named type). */
  get(path: string): Hdf5Node | null;
  /** Attribute values: number, string, bigint, typed array or array of strings. */
  readonly attrs: Record<string, unknown>;
  /** Dataset shape (C order, slowest axis first); null for groups. */
  readonly shape: number[] | null;
  /** Dataset element type; null for groups. */
  readonly dtype: Hdf5DType | null;
  /** Whole dataset, flattened in C order. Callers check `shape` against their limits first. */
  read(): Hdf5Value;
}

/** The 8-byte HDF5 format signature `\x89HDF\r\n\x1a\n`. */
export const HDF5_SIGNATURE: readonly number[] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Offsets where an HDF5 superblock may start: 0, then 512, 1024, 2048, ... (a user block, when
 * present, has a power-of-two size of at least 512 bytes), below `length`.
 */
export function hdf5SignatureOffsets(length: number): number[] {
  const out = [0];
  for (let at = 512; at + HDF5_SIGNATURE.length <= length && at <= Number.MAX_SAFE_INTEGER / 2; at *= 2) out.push(at);
  return out;
}

function signatureAt(bytes: Uint8Array, at: number): boolean {
  if (at + HDF5_SIGNATURE.length > bytes.length) return false;
  for (let i = 0; i < HDF5_SIGNATURE.length; i++) if (bytes[at + i] !== HDF5_SIGNATURE[i]) return false;
  return true;
}

/** True when `bytes` hold the HDF5 signature at offset 0, 512, 1024, 2048, ... */
export function isHdf5(bytes: Uint8Array): boolean {
  return hdf5SignatureOffsets(bytes.length).some((at) => signatureAt(bytes, at));
}

export interface Hdf5Superblock {
  /** Where the signature was found (the user-block size). */
  offset: number;
  version: number;
  /** Absolute end-of-file address the superblock declares, or null when it is undefined. */
  endOfFile: number | null;
}

/**
 * Parse the superblock whose signature starts at `bytes[0]` (`bytes` is a slice of the file taken
 * at `offset`; 96 bytes are plenty). Only the fields needed to detect truncation are read.
 * Layouts: HDF5 File Format Specification, section II.A (versions 0/1 and 2/3).
 */
export function parseHdf5Superblock(bytes: Uint8Array, offset: number, name: string): Hdf5Superblock {
  const fail = (why: string, code: 'EMSEG_FORMAT_BAD_HEADER' | 'EMSEG_FORMAT_TRUNCATED' = 'EMSEG_FORMAT_BAD_HEADER'): never => {
    throw new EmsegError(code, `${name}: HDF5 superblock at offset ${offset}: ${why}`, { file: name });
  };
  if (!signatureAt(bytes, 0)) fail('no HDF5 signature');
  if (bytes.length < 9) fail('file ends inside the superblock', 'EMSEG_FORMAT_TRUNCATED');
  const version = bytes[8];
  let sizeOfOffsets: number;
  let addressesAt: number;
  if (version === 0 || version === 1) {
    if (bytes.length < 16) fail('file ends inside the superblock', 'EMSEG_FORMAT_TRUNCATED');
    sizeOfOffsets = bytes[13];
    addressesAt = version === 0 ? 24 : 28; // base, free-space info, end-of-file, driver info
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = bytes[9];
    addressesAt = 12; // base, superblock extension, end-of-file, root object header
  } else {
    return fail(`superblock version ${version} is not one HDF5 defines (0-3)`);
  }
  if (![2, 4, 8].includes(sizeOfOffsets)) fail(`size of offsets ${sizeOfOffsets} is not 2, 4 or 8`);
  const need = addressesAt + 3 * sizeOfOffsets;
  if (bytes.length < need) fail(`file ends inside the superblock (needs ${need} bytes)`, 'EMSEG_FORMAT_TRUNCATED');
  const address = (at: number): number | null => {
    let v = 0;
    let allOnes = true;
    for (let i = sizeOfOffsets - 1; i >= 0; i--) {
      const b = bytes[at + i];
      if (b !== 0xff) allOnes = false;
      v = v * 256 + b;
    }
    if (allOnes) return null; // the "undefined address"
    return Number.isSafeInteger(v) ? v : fail(`address ${v} at byte ${at} is beyond any real file`);
  };
  const base = address(addressesAt) ?? 0;
  const eof = address(addressesAt + 2 * sizeOfOffsets);
  return { offset, version, endOfFile: eof === null ? null : base + eof };
}

const SUPERBLOCK_BYTES = 96;

/**
 * Vet a file before the HDF5 library sees it: the signature at 0, 512, 1024, ... and an end-of-file
 * address within the file. Otherwise HDF5 would print its C error stack and h5wasm throw a bare
 * "error - name not defined!"; this turns the common cases (not HDF5, truncated) into EmsegErrors
 * naming the file. `read(offset, length)` returns up to `length` bytes at `offset` (a file handle in
 * Node, a slice of the bytes in a browser).
 */
export async function vetHdf5(size: number, read: (offset: number, length: number) => Promise<Uint8Array>, name: string): Promise<void> {
  if (size < HDF5_SIGNATURE.length) {
    // A prefix of the signature is a cut-off HDF5 file; anything else is not HDF5 at all.
    const head = await read(0, size);
    const prefix = size > 0 && [...head].every((b, i) => b === HDF5_SIGNATURE[i]);
    throw prefix || size === 0
      ? new EmsegError('EMSEG_FORMAT_TRUNCATED', `${name}: file has ${size} bytes, too short for an HDF5 superblock`, { file: name })
      : new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: not an HDF5 file (no HDF5 signature)`, { file: name });
  }
  for (const at of hdf5SignatureOffsets(size)) {
    const head = await read(at, Math.min(SUPERBLOCK_BYTES, size - at));
    if (!signatureAt(head, 0)) continue;
    const sb = parseHdf5Superblock(head, at, name);
    if (sb.endOfFile !== null && sb.endOfFile > size) {
      throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${name}: HDF5 file is truncated: its superblock declares ${sb.endOfFile} bytes, the file has ${size}`, { file: name });
    }
    return;
  }
  throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)`, { file: name });
}
