import { EmsegError } from '../errors.ts';

/**
 * Bounds-checked little/big-endian reads over a byte buffer. Every read past the end throws
 * EMSEG_FORMAT_TRUNCATED naming the file and what was being read, so parsers never see garbage or
 * throw a bare RangeError. Hand-written (a DataView wrapper) because the formats mix endianness
 * per field and need 64-bit offsets as safe numbers.
 */
export class ByteReader {
  readonly view: DataView;
  pos = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
    public littleEndian = true,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  /** Throws unless `n` bytes are available at `at` (default: the current position). */
  need(n: number, what: string, at = this.pos): void {
    if (!(at >= 0 && n >= 0 && at + n <= this.length)) {
      throw new EmsegError(
        'EMSEG_FORMAT_TRUNCATED',
        `${this.name}: file ends before ${what} (needs ${n} bytes at offset ${at}, file has ${this.length})`,
        { file: this.name },
      );
    }
  }

  seek(at: number, what = 'the next field'): this {
    this.need(0, what, at);
    this.pos = at;
    return this;
  }

  skip(n: number, what = 'the next field'): this {
    this.need(n, what);
    this.pos += n;
    return this;
  }

  u8(what = 'a byte'): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  i8(what = 'a byte'): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }

  u16(what = 'a 16-bit field'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  i16(what = 'a 16-bit field'): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u32(what = 'a 32-bit field'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  i32(what = 'a 32-bit field'): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  /** Unsigned 64-bit as a number; throws beyond 2^53 (no file emseg reads is that large). */
  u64(what = 'a 64-bit field'): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${this.name}: ${what} is ${v}, beyond any real file size`, { file: this.name });
    }
    return Number(v);
  }

  i64(what = 'a 64-bit field'): number {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, this.littleEndian);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${this.name}: ${what} is ${v}, out of range`, { file: this.name });
    }
    return Number(v);
  }

  f32(what = 'a float field'): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  f64(what = 'a double field'): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  /** `n` bytes decoded as Latin-1 (header text fields are ASCII). */
  ascii(n: number, what = 'a text field'): string {
    this.need(n, what);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.bytes[this.pos + i]);
    this.pos += n;
    return s;
  }

  /** A view (no copy) of `n` bytes. */
  slice(n: number, what = 'a data block'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
