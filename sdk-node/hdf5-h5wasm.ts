import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import { EmsegError } from '../core/errors.ts';
import { type Hdf5DType, type Hdf5Node, type Hdf5Value, HDF5_SIGNATURE, hdf5SignatureOffsets, parseHdf5Superblock } from '../core/formats/hdf5.ts';

/**
 * `Hdf5Node` over h5wasm's Node build (HDF5 compiled to WebAssembly, reading the host file system).
 *
 * Before the file reaches HDF5 it is checked here: the signature must be at 0, 512, 1024, ... and the
 * end-of-file address in the superblock must lie within the file. Otherwise HDF5 would print its C
 * error stack to stderr and h5wasm would throw a bare "error - name not defined!"; these checks turn
 * the common cases (not HDF5, truncated) into EmsegErrors naming the file. Any error h5wasm still
 * throws later (a corrupt object header, say) is wrapped as EMSEG_FORMAT_BAD_HEADER.
 */

let ready: Promise<unknown> | null = null;

function h5ready(): Promise<unknown> {
  ready ??= h5wasm.ready;
  return ready;
}

const SUPERBLOCK_BYTES = 96;
/** WebAssembly memory is 32-bit: a dataset is read whole into it, so larger ones are refused up front. */
const MAX_READ_BYTES = 2 ** 30;

/** Reads what is needed to vet the file and returns its size; throws EmsegErrors naming `path`. */
async function vetHdf5File(path: string): Promise<void> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: not a regular file`, { file: path });
    size = st.size;
  } catch (e) {
    if (e instanceof EmsegError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: ${why}`, { file: path, cause: e });
  }
  const handle = await open(path, 'r');
  try {
    if (size < HDF5_SIGNATURE.length) {
      // A prefix of the signature is a cut-off HDF5 file; anything else is not HDF5 at all.
      const buf = new Uint8Array(size);
      await handle.read(buf, 0, size, 0);
      const prefix = size > 0 && buf.every((b, i) => b === HDF5_SIGNATURE[i]);
      throw prefix || size === 0
        ? new EmsegError('EMSEG_FORMAT_TRUNCATED', `${path}: file has ${size} bytes, too short for an HDF5 superblock`, { file: path })
        : new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${path}: not an HDF5 file (no HDF5 signature)`, { file: path });
    }
    for (const at of hdf5SignatureOffsets(size)) {
      const buf = new Uint8Array(Math.min(SUPERBLOCK_BYTES, size - at));
      const { bytesRead } = await handle.read(buf, 0, buf.length, at);
      const head = buf.subarray(0, bytesRead);
      if (!HDF5_SIGNATURE.every((b, i) => head[i] === b)) continue;
      const sb = parseHdf5Superblock(head, at, path);
      if (sb.endOfFile !== null && sb.endOfFile > size) {
        throw new EmsegError(
          'EMSEG_FORMAT_TRUNCATED',
          `${path}: HDF5 file is truncated: its superblock declares ${sb.endOfFile} bytes, the file has ${size}`,
          { file: path },
        );
      }
      return;
    }
  } finally {
    await handle.close();
  }
  throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${path}: not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)`, { file: path });
}

function wrap<T>(file: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EmsegError) throw e;
    // h5wasm's own message is rarely informative ("error - name not defined!"); keep it as the cause.
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: the HDF5 library could not read ${what}: the file is corrupt or uses an HDF5 feature h5wasm does not read`, { file, cause: e });
  }
}

interface H5Metadata {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
}

/** h5wasm type classes (H5T_class_t): 0 integer, 1 float, 3 string, 6 compound. */
function dtypeOf(m: H5Metadata): Hdf5DType {
  if (m.type === 0) {
    const map: Record<number, Hdf5DType> = m.signed ? { 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' } : { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' };
    return map[m.size] ?? 'other';
  }
  if (m.type === 1) return m.size === 4 ? 'float32' : m.size === 8 ? 'float64' : 'other';
  if (m.type === 3) return 'string';
  if (m.type === 6) return 'compound';
  return 'other';
}

/** h5wasm hands numbers over in the file's byte order; emseg wants the platform's (little-endian). */
function toNative<T extends ArrayBufferView>(v: T, m: H5Metadata): T {
  if (m.littleEndian || m.size <= 1) return v;
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  for (let i = 0; i + m.size <= bytes.length; i += m.size) {
    for (let lo = i, hi = i + m.size - 1; lo < hi; lo++, hi--) {
      const t = bytes[lo];
      bytes[lo] = bytes[hi];
      bytes[hi] = t;
    }
  }
  return v;
}

function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
  return v;
}

const SCALAR_ARRAY = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array,
} as const;

class H5wasmNode implements Hdf5Node {
  private attrCache: Record<string, unknown> | null = null;

  constructor(
    private readonly file: string,
    private readonly entity: Group | Dataset,
    readonly path: string,
  ) {}

  get isDataset(): boolean {
    return this.entity instanceof h5wasm.Dataset;
  }

  keys(): string[] {
    if (this.isDataset) return [];
    return wrap(this.file, this.path, () => (this.entity as Group).keys()).slice().sort();
  }

  get(path: string): Hdf5Node | null {
    // Walk segment by segment through keys(): asking HDF5 for a missing path prints an error stack.
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let node = new H5wasmNode(this.file, this.entity, this.path);
    for (const part of parts) {
      if (node.isDataset || !node.keys().includes(part)) return null;
      const childPath = node.path === '/' ? `/${part}` : `${node.path}/${part}`;
      const child = wrap(this.file, childPath, () => (node.entity as Group).get(part));
      if (!(child instanceof h5wasm.Group) && !(child instanceof h5wasm.Dataset)) return null;
      node = new H5wasmNode(this.file, child, childPath);
    }
    return node;
  }

  get attrs(): Record<string, unknown> {
    if (this.attrCache) return this.attrCache;
    const out: Record<string, unknown> = {};
    wrap(this.file, `the attributes of ${this.path}`, () => {
      for (const [key, attr] of Object.entries(this.entity.attrs)) {
        const value = attr.value;
        out[key] = ArrayBuffer.isView(value) ? toNative(value, attr.metadata) : plainValue(value);
      }
    });
    this.attrCache = out;
    return out;
  }

  private get meta(): (H5Metadata & { shape: number[] | null }) | null {
    if (!(this.entity instanceof h5wasm.Dataset)) return null;
    const ds = this.entity;
    return wrap(this.file, this.path, () => ({ ...ds.metadata, shape: ds.shape }));
  }

  get shape(): number[] | null {
    return this.meta?.shape ?? null;
  }

  get dtype(): Hdf5DType | null {
    const m = this.meta;
    return m ? dtypeOf(m) : null;
  }

  read(): Hdf5Value {
    const m = this.meta;
    if (!m || !(this.entity instanceof h5wasm.Dataset)) {
      throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${this.file}: ${this.path} is a group, not a dataset`, { file: this.file, path: this.path });
    }
    const dtype = dtypeOf(m);
    if (dtype === 'compound' || dtype === 'other') {
      throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${this.file}: ${this.path} has an element type emseg does not read (${dtype})`, { file: this.file, path: this.path });
    }
    const bytes = (m.shape ?? []).reduce((a, b) => a * b, 1) * m.size;
    if (!(bytes <= MAX_READ_BYTES)) {
      throw new EmsegError('EMSEG_IMAGE_TOO_LARGE', `${this.file}: ${this.path} holds ${bytes} bytes, more than the ${MAX_READ_BYTES} the WebAssembly HDF5 reader loads at once`, { file: this.file, path: this.path });
    }
    const ds = this.entity;
    const value = wrap(this.file, this.path, () => ds.value);
    if (dtype === 'string') {
      if (typeof value === 'string') return value;
      if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return value as string[];
    } else if (ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof Uint8ClampedArray)) {
      return toNative(value as Exclude<Hdf5Value, string | string[]>, m);
    } else if (typeof value === 'number' || typeof value === 'bigint') {
      // A scalar dataset: hand it back as a one-element array of its type.
      if (dtype === 'int64' || dtype === 'uint64') return dtype === 'int64' ? BigInt64Array.of(BigInt(value)) : BigUint64Array.of(BigInt(value));
      return SCALAR_ARRAY[dtype].of(Number(value));
    }
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${this.file}: ${this.path}: unexpected value from the HDF5 library for element type ${dtype}`, { file: this.file, path: this.path });
  }
}

/**
 * Opens an HDF5 file read-only. Missing files give EMSEG_FILE_READ, non-HDF5 files
 * EMSEG_FORMAT_BAD_HEADER and truncated ones EMSEG_FORMAT_TRUNCATED, all naming the file.
 * Call `close()` when done (the HDF5 handle lives in WebAssembly memory, not the JS heap).
 */
export async function openHdf5(path: string): Promise<{ root: Hdf5Node; close(): void }> {
  const full = resolve(path);
  await vetHdf5File(full);
  await h5ready();
  const file = wrap(path, 'the file', () => new h5wasm.File(full, 'r'));
  let closed = false;
  return {
    root: new H5wasmNode(path, file, '/'),
    close(): void {
      if (closed) return;
      closed = true;
      wrap(path, 'the file (closing)', () => file.close());
    },
  };
}
