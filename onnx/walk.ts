import type { NodeProto } from './proto.ts';

/** Visit every node of `nodes` and of the subgraphs their attributes hold (Loop and If bodies), depth first. */
export function forEachNode(nodes: readonly NodeProto[], visit: (node: NodeProto) => void): void {
  for (const n of nodes) {
    visit(n);
    for (const a of n.attribute ?? []) if (a.g?.node) forEachNode(a.g.node, visit);
  }
}

/** Rename values read by `nodes` (inputs only), subgraphs included: they read outer values by name. */
export function renameInputs(nodes: readonly NodeProto[], rename: ReadonlyMap<string, string>): void {
  forEachNode(nodes, (n) => {
    n.input = (n.input ?? []).map((v) => rename.get(v) ?? v);
  });
}
