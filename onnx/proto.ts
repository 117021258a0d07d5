/**
 * The generated ONNX protobuf classes (onnx-proto 8.0.1: the ONNX 1.10 schema, IR version 8, enough
 * for opset 17). onnx-proto is CommonJS with a single `module.exports` object, so Node's ESM loader
 * only offers it as a default import; every other module of the layer imports it from here.
 */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;

export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type FunctionProto = onnxProto.onnx.IFunctionProto;
export type OperatorSetId = onnxProto.onnx.IOperatorSetIdProto;

/** protobufjs decodes 64-bit integers as `Long` objects (the `long` package is installed). */
export interface LongLike {
  toNumber(): number;
}

/** A protobuf int64 field as a JS number (ONNX dims, versions and int attributes fit in 2^53). */
export function int64ToNumber(value: number | LongLike | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}
