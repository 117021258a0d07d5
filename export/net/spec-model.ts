import type { NetSpec } from '../../model/net/spec.ts';
import { ONNX_OPSET, OpBuilder, makeGraph, makeModel, opsetImport, tensorValueInfo, type Dim, type ModelProto, type TensorProto } from '../../onnx/index.ts';
import { emitSpec, type SpecWeights } from './spec-to-onnx.ts';

export interface SpecModelOptions {
  /** Graph name (default 'net'). */
  name?: string;
  docString?: string;
  /** Key-value pairs stored as the model's metadata_props (e.g. classes, strides, training run). */
  metadata?: Record<string, string>;
  /**
   * Shape of each graph input, by spec input name. Default [N, C, H, W] with N, H, W symbolic
   * (named after the input when the spec has several, so unrelated inputs are not declared equal).
   */
  inputDims?: Record<string, Dim[]>;
}

/** Channels of every value of a spec (outputs are declared with their channel count). */
function channelsOf(spec: NetSpec): Map<string, number> {
  const ch = new Map(spec.inputs.map((i) => [i.name, i.channels]));
  for (const n of spec.nodes) {
    if (n.op === 'conv2d') ch.set(n.output, n.outChannels);
    else if (n.op === 'add') ch.set(n.output, ch.get(n.inputs[0]) ?? 0);
    else ch.set(n.output, ch.get(n.input) ?? 0);
  }
  return ch;
}

/**
 * A standalone model of one network: graph inputs are the spec inputs (float32 NCHW, e.g. `image`
 * [N, 1, H, W]), graph outputs the spec outputs under their spec names (NCHW). Standard domain
 * only, opset 17.
 */
export function buildSpecModel(spec: NetSpec, params: SpecWeights, opts: SpecModelOptions = {}): ModelProto {
  const ops = new OpBuilder('');
  const initializers: TensorProto[] = [];
  const single = spec.inputs.length === 1;
  const dims = (name: string, channels: number): Dim[] =>
    opts.inputDims?.[name] ?? (single ? ['N', channels, 'H', 'W'] : [`${name}_N`, channels, `${name}_H`, `${name}_W`]);
  const inputs = spec.inputs.map((i) => tensorValueInfo(i.name, 'float32', dims(i.name, i.channels)));
  const names = new Set(spec.inputs.map((i) => i.name));
  for (const o of spec.outputs) {
    if (names.has(o)) throw new Error(`buildSpecModel: output "${o}" is listed twice or is a graph input`);
    names.add(o);
  }
  const emitted = emitSpec({ ops, initializers }, spec, params, Object.fromEntries(spec.inputs.map((i) => [i.name, i.name])));
  // Graph outputs carry the spec's names; Identity costs nothing (runtimes drop it when loading).
  for (const o of spec.outputs) ops.opTo(o, 'Identity', [emitted[o]]);
  const ch = channelsOf(spec);
  const batch = single ? dims(spec.inputs[0].name, spec.inputs[0].channels)[0] : null;
  const outputs = spec.outputs.map((o) => tensorValueInfo(o, 'float32', [batch, ch.get(o) ?? null, null, null]));
  const graph = makeGraph({ name: opts.name ?? 'net', nodes: ops.nodes, inputs, outputs, initializers, docString: opts.docString ?? '' });
  const model = makeModel({ graph, opsetImports: [opsetImport('', ONNX_OPSET)], docString: opts.docString ?? '' });
  if (opts.metadata) model.metadataProps = Object.entries(opts.metadata).map(([key, value]) => ({ key, value }));
  return model;
}
