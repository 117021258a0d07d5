import type { GraphProto, NodeProto, TensorProto, ValueInfoProto } from './proto.ts';

export interface GraphSpec {
  name: string;
  nodes: readonly NodeProto[];
  inputs: readonly ValueInfoProto[];
  outputs: readonly ValueInfoProto[];
  initializers?: readonly TensorProto[];
  docString?: string;
}

/** A GraphProto: the main graph of a model, or a subgraph (a Loop or If body). */
export function makeGraph(spec: GraphSpec): GraphProto {
  return {
    name: spec.name,
    node: [...spec.nodes],
    input: [...spec.inputs],
    output: [...spec.outputs],
    initializer: [...(spec.initializers ?? [])],
    docString: spec.docString ?? '',
  };
}
