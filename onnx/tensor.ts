import { ELEMENT_BYTES, dataTypeCode, elementTypeOfCode, type TensorElementType } from './data-type.ts';
import { int64ToNumber, type TensorProto } from './proto.ts';

/** Values of a tensor as plain numbers (booleans as 0/1), row-major. */
export type TensorValues = ArrayLike<number> | readonly boolean[];

function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/**
 * A TensorProto holding `values` in `raw_data`. raw_data (little-endian bytes) is used for every
 * type because it is the one encoding all runtimes read, and it sidesteps protobufjs' Long handling
 * of the repeated int64 field.
 */
export function makeTensor(
  name: string,
  type: TensorElementType,
  dims: readonly number[],
  values: TensorValues,
): TensorProto {
  const count = elementCount(dims);
  if (values.length !== count) {
    throw new Error(`tensor ${name}: dims [${dims.join(', ')}] hold ${count} values, got ${values.length}`);
  }
  const bytes = new Uint8Array(count * ELEMENT_BYTES[type]);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    const v = Number(values[i]);
    switch (type) {
      case 'float32': view.setFloat32(4 * i, v, true); break;
      case 'float64': view.setFloat64(8 * i, v, true); break;
      case 'int32': view.setInt32(4 * i, v, true); break;
      case 'int64': view.setBigInt64(8 * i, BigInt(v), true); break;
      case 'uint8': view.setUint8(i, v); break;
      case 'int8': view.setInt8(i, v); break;
      case 'bool': view.setUint8(i, v ? 1 : 0); break;
    }
  }
  return { name, dataType: dataTypeCode(type), dims: [...dims], rawData: bytes };
}

/** A scalar (rank-0) tensor. */
export function makeScalar(name: string, type: TensorElementType, value: number | boolean): TensorProto {
  return makeTensor(name, type, [], [Number(value)]);
}

/** Element type, dims and values of a TensorProto written by `makeTensor` (raw_data or typed fields). */
export function readTensor(t: TensorProto): { type: TensorElementType; dims: number[]; values: number[] } {
  const type = elementTypeOfCode(t.dataType ?? 0);
  if (type === undefined) throw new Error(`tensor ${t.name ?? ''}: unsupported data type ${t.dataType}`);
  const dims = (t.dims ?? []).map(int64ToNumber);
  const count = elementCount(dims);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== count * ELEMENT_BYTES[type]) {
      throw new Error(`tensor ${t.name ?? ''}: raw_data has ${raw.length} bytes for ${count} ${type} values`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      switch (type) {
        case 'float32': values.push(view.getFloat32(4 * i, true)); break;
        case 'float64': values.push(view.getFloat64(8 * i, true)); break;
        case 'int32': values.push(view.getInt32(4 * i, true)); break;
        case 'int64': values.push(Number(view.getBigInt64(8 * i, true))); break;
        case 'uint8': case 'bool': values.push(view.getUint8(i)); break;
        case 'int8': values.push(view.getInt8(i)); break;
      }
    }
    return { type, dims, values };
  }
  // Typed repeated fields, as other writers (e.g. onnx.helper with small tensors) produce them.
  const typed =
    type === 'float32' ? t.floatData
    : type === 'float64' ? t.doubleData
    : type === 'int64' ? t.int64Data
    : t.int32Data;
  const values = (typed ?? []).map((v) => int64ToNumber(v));
  if (values.length !== count) throw new Error(`tensor ${t.name ?? ''}: ${values.length} values for dims [${dims.join(', ')}]`);
  return { type, dims, values };
}
