import { EmsegError } from '../errors.ts';
import type { Hdf5DType, Hdf5Node, Hdf5Value } from './hdf5.ts';

/**
 * `Hdf5Node` over h5wasm (HDF5 compiled to WebAssembly). The library is passed in, so this stays
 * runtime-free: Node hands over h5wasm's Node build (reading the file system, sdk-node), browsers
 * its ESM build (reading a file written into its in-memory file system, sdk-web). Errors h5wasm
 * throws (a corrupt object header, say) become EMSEG_FORMAT_BAD_HEADER naming the file; callers vet
 * the file with `vetHdf5` first.
 */

/** The parts of h5wasm's API emseg uses (structural, so core needs no h5wasm import). */
export interface H5Metadata {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
}
interface H5Attribute {
  readonly value: unknown;
  readonly metadata: H5Metadata;
}
export interface H5Group {
  keys(): string[];
  get(name: string): unknown;
  readonly attrs: Record<string, H5Attribute>;
}
export interface H5Dataset {
  readonly attrs: Record<string, H5Attribute>;
  readonly metadata: H5Metadata;
  readonly shape: number[] | null;
  readonly value: unknown;
}
export interface H5wasmLibrary {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Group: abstract new (...args: any[]) => H5Group;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Dataset: abstract new (...args: any[]) => H5Dataset;
}

/** WebAssembly memory is 32-bit: a dataset is read whole into it, so larger ones are refused up front. */
const MAX_READ_BYTES = 2 ** 30;

export function wrapH5<T>(file: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EmsegError) throw e;
    // h5wasm's own message is rarely informative ("error - name not defined!"); keep it as the cause.
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: the HDF5 library could not read ${what}: the file is corrupt or uses an HDF5 feature h5wasm does not read`, { file, cause: e });
  }
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
    private readonly lib: H5wasmLibrary,
    private readonly file: string,
    private readonly entity: H5Group | H5Dataset,
    readonly path: string,
  ) {}

  get isDataset(): boolean {
    return this.entity instanceof this.lib.Dataset;
  }

  keys(): string[] {
    if (this.isDataset) return [];
    return wrapH5(this.file, this.path, () => (this.entity as H5Group).keys()).slice().sort();
  }

  get(path: string): Hdf5Node | null {
    // Walk segment by segment through keys(): asking HDF5 for a missing path prints an error stack.
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let node = new H5wasmNode(this.lib, this.file, this.entity, this.path);
    for (const part of parts) {
      if (node.isDataset || !node.keys().includes(part)) return null;
      const childPath = node.path === '/' ? `/${part}` : `${node.path}/${part}`;
      const child = wrapH5(this.file, childPath, () => (node.entity as H5Group).get(part));
      if (!(child instanceof this.lib.Group) && !(child instanceof this.lib.Dataset)) return null;
      node = new H5wasmNode(this.lib, this.file, child, childPath);
    }
    return node;
  }

  get attrs(): Record<string, unknown> {
    if (this.attrCache) return this.attrCache;
    const out: Record<string, unknown> = {};
    wrapH5(this.file, `the attributes of ${this.path}`, () => {
      for (const [key, attr] of Object.entries(this.entity.attrs)) {
        const value = attr.value;
        out[key] = ArrayBuffer.isView(value) ? toNative(value, attr.metadata) : plainValue(value);
      }
    });
    this.attrCache = out;
    return out;
  }

  private get meta(): (H5Metadata & { shape: number[] | null }) | null {
    if (!(this.entity instanceof this.lib.Dataset)) return null;
    const ds = this.entity;
    return wrapH5(this.file, this.path, () => ({ ...ds.metadata, shape: ds.shape }));
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
    if (!m || !(this.entity instanceof this.lib.Dataset)) {
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
    const value = wrapH5(this.file, this.path, () => ds.value);
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
 * An open h5wasm file as emseg's decoders hand it over: its root group as an `Hdf5Node` (`name` names
 * the file in errors) and a `close()` that closes it once, then runs `afterClose` (a browser removes
 * the copy it wrote into h5wasm's in-memory file system).
 */
export function openedH5wasmFile(lib: H5wasmLibrary, name: string, file: H5Group & { close(): unknown }, afterClose?: () => void): { root: Hdf5Node; close(): void } {
  let closed = false;
  return {
    root: new H5wasmNode(lib, name, file, '/'),
    close(): void {
      if (closed) return;
      closed = true;
      try {
        wrapH5(name, 'the file (closing)', () => file.close());
      } finally {
        afterClose?.();
      }
    },
  };
}
