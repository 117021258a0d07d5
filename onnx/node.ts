import type { AttributeProto, NodeProto } from './proto.ts';

export interface NodeOptions {
  /** Node name (unique within its graph or function; ORT uses it in error messages). */
  name?: string;
  /** Operator domain; '' (the default) is the standard ONNX domain. */
  domain?: string;
  attributes?: readonly AttributeProto[];
}

/** One NodeProto: `opType(inputs) -> outputs`. An empty input name stands for an omitted optional input. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  options: NodeOptions = {},
): NodeProto {
  return {
    opType,
    input: [...inputs],
    output: [...outputs],
    name: options.name ?? '',
    domain: options.domain ?? '',
    attribute: options.attributes ? [...options.attributes] : [],
  };
}
