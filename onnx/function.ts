import { ONNX_OPSET, opsetImport } from './opset.ts';
import type { FunctionProto, NodeProto, OperatorSetId } from './proto.ts';

export interface FunctionSpec {
  domain: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  nodes: readonly NodeProto[];
  /** Operator sets the body uses; defaults to the standard domain at opset 17. */
  opsetImports?: readonly OperatorSetId[];
  docString?: string;
}

/**
 * A model-local function (FunctionProto): a custom op `domain::name` defined by a body of standard
 * ops, which runtimes inline where a node calls it. Bodies cannot hold initializers, so constants
 * are Constant nodes; onnx-proto 8 has no attribute defaults or value_info here, so emseg's
 * functions take everything as inputs and leave types to inference from the call site.
 */
export function makeFunction(spec: FunctionSpec): FunctionProto {
  return {
    domain: spec.domain,
    name: spec.name,
    input: [...spec.inputs],
    output: [...spec.outputs],
    attribute: [],
    node: [...spec.nodes],
    opsetImport: [...(spec.opsetImports ?? [opsetImport('', ONNX_OPSET)])],
    docString: spec.docString ?? '',
  };
}
