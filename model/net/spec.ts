/**
 * The one description of a network: a list of nodes in topological order over named values, with
 * every parameter named by the node that owns it. `run-tfjs.ts` interprets it for training and
 * inference; the ONNX exporter walks the same list, so the two can never drift apart.
 * Runtime-free: no tfjs or onnx import here. Layout is NHWC in tfjs and NCHW in ONNX; the
 * exporter transposes weights ([kh, kw, ci, co] here).
 */

export type NetNode =
  | {
      op: 'conv2d';
      name: string;
      input: string;
      output: string;
      kernel: number;
      stride: number;
      /** Explicit padding [top, bottom, left, right]. */
      pad: [number, number, number, number];
      inChannels: number;
      outChannels: number;
      bias: boolean;
      /** Weight init: 'he' (ReLU networks) or a normal std (heads, e.g. 0.01 as detectron2). */
      init: 'he' | { std: number };
      /** Initial bias value (e.g. a prior-probability logit for objectness). */
      biasInit?: number;
      /** Use the parameters of this other conv2d node (heads shared across pyramid levels). */
      shareWith?: string;
    }
  | { op: 'groupnorm'; name: string; input: string; output: string; channels: number; groups: number; eps: number }
  | { op: 'relu'; input: string; output: string }
  | { op: 'add'; inputs: [string, string]; output: string }
  | { op: 'maxpool'; input: string; output: string; kernel: number; stride: number; pad: [number, number, number, number] }
  /** Nearest-neighbour 2x upsampling (FPN top-down path). */
  | { op: 'upsample2x'; input: string; output: string }
  /** 2x2 transposed convolution with stride 2 (mask head upsampling), weight [2, 2, co, ci] as tfjs. */
  | { op: 'deconv2x'; name: string; input: string; output: string; inChannels: number; outChannels: number };

export interface NetSpec {
  /** Network inputs: name and channel count (NHWC, any N, H, W). */
  inputs: { name: string; channels: number }[];
  nodes: NetNode[];
  /** Values returned by a run, by name. */
  outputs: string[];
}

export interface ParamSpec {
  name: string;
  shape: number[];
  init: 'he' | 'zeros' | 'ones' | { std: number } | { constant: number };
}

/** Parameter-name prefix of a node: its own name, or the node it shares parameters with. */
export function paramOwner(n: Extract<NetNode, { op: 'conv2d' }>): string {
  return n.shareWith ?? n.name;
}

/** Every parameter of a network, in node order (the order of checkpoints and flat gradients). */
export function paramsOf(spec: NetSpec): ParamSpec[] {
  const out: ParamSpec[] = [];
  for (const n of spec.nodes) {
    if (n.op === 'conv2d') {
      if (n.shareWith) continue;
      out.push({ name: `${n.name}.weight`, shape: [n.kernel, n.kernel, n.inChannels, n.outChannels], init: n.init });
      if (n.bias) out.push({ name: `${n.name}.bias`, shape: [n.outChannels], init: n.biasInit === undefined ? 'zeros' : { constant: n.biasInit } });
    } else if (n.op === 'deconv2x') {
      out.push({ name: `${n.name}.weight`, shape: [2, 2, n.outChannels, n.inChannels], init: 'he' }, { name: `${n.name}.bias`, shape: [n.outChannels], init: 'zeros' });
    } else if (n.op === 'groupnorm') {
      out.push({ name: `${n.name}.gamma`, shape: [n.channels], init: 'ones' }, { name: `${n.name}.beta`, shape: [n.channels], init: 'zeros' });
    }
  }
  return out;
}

/** Checks a spec: unique names, every input defined before use, channel counts consistent. */
export function validateSpec(spec: NetSpec): void {
  const channels = new Map<string, number>(spec.inputs.map((i) => [i.name, i.channels]));
  const names = new Set<string>();
  const need = (v: string, node: string): number => {
    const c = channels.get(v);
    if (c === undefined) throw new Error(`net spec: ${node} reads "${v}" before it is defined`);
    return c;
  };
  const define = (v: string, c: number, node: string) => {
    if (channels.has(v)) throw new Error(`net spec: ${node} redefines "${v}"`);
    channels.set(v, c);
  };
  spec.nodes.forEach((n, i) => {
    const label = `node ${i} (${n.op}${'name' in n ? ` ${n.name}` : ''})`;
    if ('name' in n) {
      if (names.has(n.name)) throw new Error(`net spec: duplicate node name ${n.name}`);
      names.add(n.name);
    }
    switch (n.op) {
      case 'conv2d': {
        if (n.shareWith) {
          const owner = spec.nodes.find((m) => m.op === 'conv2d' && m.name === n.shareWith && !m.shareWith);
          if (!owner || owner.op !== 'conv2d' || owner.kernel !== n.kernel || owner.inChannels !== n.inChannels || owner.outChannels !== n.outChannels || owner.bias !== n.bias) {
            throw new Error(`net spec: ${label} shares parameters with "${n.shareWith}", which is not an earlier conv2d of the same shape`);
          }
        }
        const c = need(n.input, label);
        if (c !== n.inChannels) throw new Error(`net spec: ${label} expects ${n.inChannels} input channels, "${n.input}" has ${c}`);
        define(n.output, n.outChannels, label);
        break;
      }
      case 'groupnorm': {
        const c = need(n.input, label);
        if (c !== n.channels || c % n.groups !== 0) throw new Error(`net spec: ${label}: ${c} channels in ${n.groups} groups`);
        define(n.output, c, label);
        break;
      }
      case 'deconv2x': {
        const c = need(n.input, label);
        if (c !== n.inChannels) throw new Error(`net spec: ${label} expects ${n.inChannels} input channels, "${n.input}" has ${c}`);
        define(n.output, n.outChannels, label);
        break;
      }
      case 'add': {
        const [a, b] = n.inputs.map((v) => need(v, label));
        if (a !== b) throw new Error(`net spec: ${label} adds ${a} and ${b} channels`);
        define(n.output, a, label);
        break;
      }
      default:
        define(n.output, need(n.input, label), label);
    }
  });
  for (const o of spec.outputs) need(o, 'outputs');
}
