// Rewrite the box heads' fully connected layers (fc1, fc2) of an emseg detector exported before 2026-12-07
// from a 7 x 7 `Conv` over the pooled RoI features to `Flatten -> Gemm -> Unsqueeze`, as the exporter
// now emits it (export/net/spec-to-onnx.ts). onnxruntime ran the Conv as one matrix-vector product
// per RoI, reading the whole fc1 weight each time: ~10 % of a zoo model's run at 1024². The weight
// keeps its bytes: OIHW [O, C, 7, 7] row-major is [O, C * 49], so only its dims change.
//   node --import tsx scripts/zoo-fc-gemm.ts IN.onnx [OUT.onnx]     (OUT defaults to IN)
import { readFileSync, writeFileSync } from 'node:fs';
import { attr, decodeModel, encodeModel, forEachNode, int64ToNumber, makeNode, makeTensor, type NodeProto, type TensorProto } from '../onnx/index.ts';

const [input, output = input] = process.argv.slice(2);
if (!input) throw new Error('usage: scripts/zoo-fc-gemm.ts IN.onnx [OUT.onnx]');
const model = decodeModel(readFileSync(input), input);
const g = model.graph!;
const initializers = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
const producers = new Map<string, NodeProto>();
for (const n of g.node ?? []) for (const o of n.output ?? []) producers.set(o, n);

/** The stored tensor behind a top-level weight: an initializer, or the one a Cast (fp16 storage) reads. */
function storedWeight(name: string): TensorProto | undefined {
  const p = producers.get(name);
  return initializers.get(name) ?? (p?.opType === 'Cast' ? initializers.get(p.input![0]) : undefined);
}

const ints = (n: NodeProto, key: string): number[] | undefined => n.attribute?.find((a) => a.name === key)?.ints?.map(int64ToNumber);

/** A box head's fc1 or fc2: a k x k Conv, unpadded, unstrided, ungrouped, whose weight is a stored tensor. */
function isFullyConnectedConv(n: NodeProto): boolean {
  if (n.opType !== 'Conv' || !/\.fc\d\.weight$/.test(n.input?.[1] ?? '')) return false;
  const k = ints(n, 'kernel_shape'), w = storedWeight(n.input![1]);
  const dims = w?.dims?.map(int64ToNumber);
  const group = n.attribute?.find((a) => a.name === 'group')?.i;
  return !!k && !!dims && dims.length === 4 && dims[2] === k[0] && dims[3] === k[1]
    && (ints(n, 'pads') ?? [0]).every((v) => v === 0) && (ints(n, 'strides') ?? [1]).every((v) => v === 1)
    && (ints(n, 'dilations') ?? [1]).every((v) => v === 1) && (group === undefined || int64ToNumber(group) === 1);
}

// Decided before anything changes (a rewrite changes the weight's dims), and only where every
// reader of the weight is such a layer (the rotated detector's refinement passes share theirs).
const readers = new Map<string, NodeProto[]>();
forEachNode(g.node ?? [], (n) => {
  for (const v of n.input ?? []) readers.set(v, [...(readers.get(v) ?? []), n]);
});
const chosen = new Set<NodeProto>();
forEachNode(g.node ?? [], (n) => {
  if (isFullyConnectedConv(n) && readers.get(n.input![1])!.every(isFullyConnectedConv)) chosen.add(n);
});
const reshaped = new Set<string>();
function rewrite(nodes: NodeProto[]): NodeProto[] {
  const out: NodeProto[] = [];
  for (const n of nodes) {
    for (const a of n.attribute ?? []) if (a.g?.node) a.g.node = rewrite(a.g.node);
    if (!chosen.has(n)) {
      out.push(n);
      continue;
    }
    const [x, w, b] = n.input!;
    const stored = storedWeight(w)!;
    if (!reshaped.has(stored.name!)) {
      const [o, c, kh, kw] = stored.dims!.map(int64ToNumber);
      stored.dims = [o, c * kh * kw];
      reshaped.add(stored.name!);
    }
    const id = `${n.name}_gemm`;
    out.push(
      makeNode('Flatten', [x], [`${id}_flat`], { name: `${id}_flatten`, attributes: [attr.int('axis', 1)] }),
      makeNode('Gemm', b ? [`${id}_flat`, w, b] : [`${id}_flat`, w], [`${id}_y`], { name: id, attributes: [attr.int('transB', 1)] }),
      makeNode('Constant', [], [`${id}_axes`], { name: `${id}_axes_const`, attributes: [attr.tensor('value', makeTensor(`${id}_axes`, 'int64', [2], [2, 3]))] }),
      // [R, O] -> [R, O, 1, 1]: what the Conv gave, so the nodes after it are unchanged.
      makeNode('Unsqueeze', [`${id}_y`, `${id}_axes`], [n.output![0]], { name: `${id}_unsqueeze` }),
    );
  }
  return out;
}
g.node = rewrite(g.node ?? []);
writeFileSync(output, encodeModel(model));
console.log(JSON.stringify({ file: output, rewritten: chosen.size, weights: [...reshaped] }));
