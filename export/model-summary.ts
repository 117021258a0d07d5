import { elementTypeOfCode, forEachNode, int64ToNumber, onnx, type ModelProto, type NodeProto, type ValueInfoProto } from '../onnx/index.ts';

/** What an exported model declares and contains, for the exporter's printed summary and tests. */
export interface ModelSummary {
  inputs: string[];
  outputs: string[];
  /** Node counts by op type over the graph and its subgraphs (Loop bodies), functions not expanded. */
  ops: Record<string, number>;
  /** Node counts inside model-local functions, by `domain::name`. */
  functions: Record<string, number>;
  initializers: number;
  metadata: Record<string, string>;
}

function describeValue(v: ValueInfoProto): string {
  const t = v.type?.tensorType;
  const code = t?.elemType ?? 0;
  const type = code === onnx.TensorProto.DataType.FLOAT16 ? 'float16' : (elementTypeOfCode(code) ?? `type ${code}`);
  const dims = (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? String(int64ToNumber(d.dimValue)) : '?'));
  return `${v.name} ${type} [${dims.join(', ')}]`;
}

function countOps(nodes: readonly NodeProto[], into: Record<string, number>): void {
  forEachNode(nodes, (n) => {
    const key = n.domain ? `${n.domain}::${n.opType}` : (n.opType ?? '?');
    into[key] = (into[key] ?? 0) + 1;
  });
}

export function summarizeModel(model: ModelProto): ModelSummary {
  const g = model.graph;
  const ops: Record<string, number> = {};
  countOps(g?.node ?? [], ops);
  const functions: Record<string, number> = {};
  for (const f of model.functions ?? []) {
    const inner: Record<string, number> = {};
    countOps(f.node ?? [], inner);
    functions[`${f.domain}::${f.name}`] = Object.values(inner).reduce((a, b) => a + b, 0);
  }
  return {
    inputs: (g?.input ?? []).map(describeValue),
    outputs: (g?.output ?? []).map(describeValue),
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    functions,
    initializers: g?.initializer?.length ?? 0,
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
}
