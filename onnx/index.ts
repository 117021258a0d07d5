/** A small typed layer over onnx-proto for writing (and reading back) ONNX models and functions. */
export { attr } from './attribute.ts';
export { dataTypeCode, elementTypeOfCode, type TensorElementType } from './data-type.ts';
export { makeFunction, type FunctionSpec } from './function.ts';
export { makeGraph, type GraphSpec } from './graph.ts';
export { decodeModel, encodeModel, makeModel, type ModelSpec } from './model.ts';
export { makeNode, type NodeOptions } from './node.ts';
export { OpBuilder, type OpOptions } from './op-builder.ts';
export { EMSEG_DOMAIN, EMSEG_DOMAIN_VERSION, IR_VERSION, ONNX_OPSET, defaultOpsetImports, opsetImport } from './opset.ts';
export {
  int64ToNumber,
  onnx,
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetId,
  type TensorProto,
  type ValueInfoProto,
} from './proto.ts';
export { makeScalar, makeTensor, readTensor, type TensorValues } from './tensor.ts';
export { tensorValueInfo, type Dim } from './value-info.ts';
export { forEachNode, renameInputs } from './walk.ts';
