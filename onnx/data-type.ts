import { onnx } from './proto.ts';

/** The tensor element types emseg's ONNX code writes, by their TypedArray-like names. */
export type TensorElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

const ELEMENT_TYPE_CODES: Record<TensorElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Bytes per element in ONNX's little-endian `raw_data` (bool is one byte). */
export const ELEMENT_BYTES: Record<TensorElementType, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  uint8: 1,
  int8: 1,
  bool: 1,
};

/** `TensorProto.DataType` code of an element type (the value Cast's `to` attribute takes). */
export function dataTypeCode(type: TensorElementType): number {
  return ELEMENT_TYPE_CODES[type];
}

/** The element type of a `TensorProto.DataType` code, or undefined for types emseg does not write. */
export function elementTypeOfCode(code: number): TensorElementType | undefined {
  for (const [name, value] of Object.entries(ELEMENT_TYPE_CODES)) {
    if (value === code) return name as TensorElementType;
  }
  return undefined;
}
