import { EmsegError } from '../core/errors.ts';
import { IR_VERSION, defaultOpsetImports } from './opset.ts';
import { int64ToNumber, onnx, type FunctionProto, type GraphProto, type ModelProto, type OperatorSetId } from './proto.ts';

export interface ModelSpec {
  graph: GraphProto;
  /** Model-local functions: the definitions of the custom-domain ops the graph calls. */
  functions?: readonly FunctionProto[];
  /** Defaults to the standard domain at opset 17 plus `com.emseg` version 1. */
  opsetImports?: readonly OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
}

export function makeModel(spec: ModelSpec): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [...(spec.opsetImports ?? defaultOpsetImports())],
    producerName: spec.producerName ?? 'emseg',
    producerVersion: spec.producerVersion ?? '',
    docString: spec.docString ?? '',
    graph: spec.graph,
    functions: [...(spec.functions ?? [])],
  };
}

/** Serialised ONNX (the bytes of a `.onnx` file). */
export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}

/**
 * Parse ONNX bytes. `source` names the file (or other origin) in error messages. Protobuf decoding
 * accepts many byte strings that are not ONNX, so the result must also look like a model: an IR
 * version, at least one opset import and a graph.
 */
export function decodeModel(bytes: Uint8Array, source = 'ONNX model'): ModelProto {
  const fail = (what: string, cause?: unknown): EmsegError =>
    new EmsegError('EMSEG_INVALID_ARGUMENT', `${source} is not a valid ONNX model: ${what}`, { file: source, cause });
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw fail(`protobuf decoding failed (${e instanceof Error ? e.message : String(e)})`, e);
  }
  if (int64ToNumber(model.irVersion) <= 0) throw fail('ir_version is missing');
  if (!model.opsetImport || model.opsetImport.length === 0) throw fail('opset_import is empty');
  if (!model.graph) throw fail('the model has no graph');
  return model;
}
