import { onnx, type AttributeProto, type GraphProto, type TensorProto } from './proto.ts';

const T = onnx.AttributeProto.AttributeType;

/**
 * Typed attribute constructors. ONNX attributes carry an explicit type, and a JS number cannot say
 * whether it is an int or a float, so each kind has its own constructor.
 */
export const attr = {
  int: (name: string, value: number): AttributeProto => ({ name, type: T.INT, i: value }),
  ints: (name: string, values: readonly number[]): AttributeProto => ({ name, type: T.INTS, ints: [...values] }),
  float: (name: string, value: number): AttributeProto => ({ name, type: T.FLOAT, f: value }),
  floats: (name: string, values: readonly number[]): AttributeProto => ({ name, type: T.FLOATS, floats: [...values] }),
  string: (name: string, value: string): AttributeProto => ({ name, type: T.STRING, s: new TextEncoder().encode(value) }),
  tensor: (name: string, value: TensorProto): AttributeProto => ({ name, type: T.TENSOR, t: value }),
  graph: (name: string, value: GraphProto): AttributeProto => ({ name, type: T.GRAPH, g: value }),
};
