import { dataTypeCode, int64ToNumber, makeNode, onnx, readTensor, type NodeProto, type TensorProto, attr } from './index.ts';

/**
 * Float16 weight storage: each float32 initializer is stored as IEEE binary16 and widened back by a
 * Cast at the start of the graph, so the file is about half the size while every op still computes
 * in float32 (only the weights are rounded, to 11 significant bits).
 */

const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> binary16 bits, round to nearest even; overflow to infinity, NaN kept (quiet). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Unbiased exponent e: normal half needs e in [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // 10 of the 23 mantissa bits kept; round on the 13 dropped ones (ties to even). A carry out of
    // the mantissa correctly bumps the exponent (and 65520 and up becomes infinity).
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
    return sign | h;
  }
  if (e < -25) return sign; // below half the smallest subnormal: zero
  // Subnormal half: value = m * 2^-24 with m = (1.mant) * 2^(e + 24), rounded to nearest even.
  // full * 2^(e - 23) in units of 2^-24 is full * 2^(e + 1): drop -e - 1 bits (14 to 24 of them).
  const full = mant | 0x800000;
  const shift = -e - 1;
  const kept = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  const rounded = rest > half || (rest === half && (kept & 1)) ? kept + 1 : kept;
  return sign | rounded;
}

/** binary16 bits -> number (exact). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A float16 TensorProto (raw_data, little-endian) of float32 values. */
export function makeFloat16Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, float32ToFloat16Bits(values[i]), true);
  return { name, dataType: FLOAT16, dims: [...dims], rawData: bytes };
}

/**
 * Dims and float32 values of a float16 TensorProto: raw_data (little-endian binary16) or, as the ONNX
 * spec allows for small tensors, the bit patterns in int32_data. Throws on a size mismatch.
 */
export function readFloat16Tensor(t: TensorProto): { dims: number[]; values: Float32Array } {
  if (t.dataType !== FLOAT16) throw new Error(`tensor ${t.name ?? ''}: not float16 (data type ${t.dataType})`);
  const dims = (t.dims ?? []).map(int64ToNumber); // int64 fields may decode as Long objects, as readTensor handles
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`tensor ${t.name ?? ''}: dims [${dims.join(', ')}] are not non-negative integers`);
  const count = dims.reduce((n, d) => n * d, 1);
  // The stored values must match the dims BEFORE the output is allocated: corrupt dims can claim billions.
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== 2 * count) throw new Error(`tensor ${t.name ?? ''}: raw_data has ${raw.length} bytes for ${count} float16 values`);
    const values = new Float32Array(count);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) values[i] = float16BitsToNumber(view.getUint16(2 * i, true));
    return { dims, values };
  }
  const bits = t.int32Data ?? [];
  if (bits.length !== count) throw new Error(`tensor ${t.name ?? ''}: ${bits.length} values for dims [${dims.join(', ')}]`);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = float16BitsToNumber(Number(bits[i]) & 0xffff);
  return { dims, values };
}

/**
 * Rewrite float32 initializers as float16 (`<name>.fp16`) plus one Cast to float32 under the
 * original name, placed before every other node so that nothing else in the graph changes.
 * `only` picks the initializers to store so (default all float32 ones).
 */
export function storeWeightsAsFloat16(initializers: TensorProto[], nodes: NodeProto[], only: (name: string) => boolean = () => true): { initializers: TensorProto[]; nodes: NodeProto[] } {
  const casts: NodeProto[] = [];
  const out = initializers.map((t) => {
    if (t.dataType !== dataTypeCode('float32') || !only(t.name ?? '')) return t;
    const { dims, values } = readTensor(t);
    const name = `${t.name}.fp16`;
    casts.push(makeNode('Cast', [name], [t.name ?? ''], { name: `cast_${t.name}`, attributes: [attr.int('to', dataTypeCode('float32'))] }));
    return makeFloat16Tensor(name, dims, values);
  });
  return { initializers: out, nodes: [...casts, ...nodes] };
}
