import type { NetNode, NetSpec } from './spec.ts';

/**
 * Building blocks that append nodes to a spec: ResNet-style backbones (BasicBlock, GroupNorm since
 * detectors train with one image per step), an FPN and the RPN head. Names follow detectron2
 * (`backbone.res2.0.conv1`, `fpn.lateral3`, `rpn.objectness`) so checkpoints read naturally.
 */
export class SpecBuilder {
  readonly nodes: NetNode[] = [];
  private channels = new Map<string, number>();

  constructor(readonly inputs: { name: string; channels: number }[]) {
    for (const i of inputs) this.channels.set(i.name, i.channels);
  }

  ch(v: string): number {
    const c = this.channels.get(v);
    if (c === undefined) throw new Error(`net builder: unknown value ${v}`);
    return c;
  }

  conv(name: string, input: string, outChannels: number, kernel: number, stride = 1, opts: { bias?: boolean; init?: 'he' | { std: number }; biasInit?: number; shareWith?: string; padding?: 'same' | 'valid' } = {}): string {
    const total = opts.padding === 'valid' ? 0 : kernel - 1;
    // "same" padding as detectron2 (kernel // 2 on each side); stride-2 layers then halve exactly.
    const p = Math.floor(total / 2);
    const output = name;
    this.nodes.push({
      op: 'conv2d', name, input, output, kernel, stride, pad: [p, total - p, p, total - p], inChannels: this.ch(input), outChannels,
      bias: opts.bias ?? false, init: opts.init ?? 'he', ...(opts.biasInit !== undefined ? { biasInit: opts.biasInit } : {}),
      ...(opts.shareWith ? { shareWith: opts.shareWith } : {}),
    });
    this.channels.set(output, outChannels);
    return output;
  }

  gn(name: string, input: string, groups = 32): string {
    const c = this.ch(input);
    const g = Math.min(groups, c);
    this.nodes.push({ op: 'groupnorm', name, input, output: name, channels: c, groups: c % g === 0 ? g : 1, eps: 1e-5 });
    this.channels.set(name, c);
    return name;
  }

  relu(input: string): string {
    const output = `${input}.relu`;
    this.nodes.push({ op: 'relu', input, output });
    this.channels.set(output, this.ch(input));
    return output;
  }

  add(a: string, b: string, output: string): string {
    this.nodes.push({ op: 'add', inputs: [a, b], output });
    this.channels.set(output, this.ch(a));
    return output;
  }

  maxpool(input: string, output: string): string {
    this.nodes.push({ op: 'maxpool', input, output, kernel: 3, stride: 2, pad: [1, 1, 1, 1] });
    this.channels.set(output, this.ch(input));
    return output;
  }

  deconv2x(name: string, input: string, outChannels: number): string {
    this.nodes.push({ op: 'deconv2x', name, input, output: name, inChannels: this.ch(input), outChannels });
    this.channels.set(name, outChannels);
    return name;
  }

  upsample2x(input: string, output: string): string {
    this.nodes.push({ op: 'upsample2x', input, output });
    this.channels.set(output, this.ch(input));
    return output;
  }

  build(outputs: string[]): NetSpec {
    return { inputs: this.inputs, nodes: this.nodes, outputs };
  }
}

export interface ResNetOptions {
  /** Channels of the four stages (ResNet-18 uses 64-128-256-512; 'light' 32-64-128-256). */
  widths: [number, number, number, number];
  /** BasicBlocks per stage (ResNet-18: 2, 2, 2, 2). */
  blocks: [number, number, number, number];
  /** Stem channels (default widths[0]). */
  stem?: number;
  norm: 'gn' | 'none';
}

export const RESNET18: ResNetOptions = { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2], norm: 'gn' };
export const RESNET18_LIGHT: ResNetOptions = { widths: [32, 64, 128, 256], blocks: [2, 2, 2, 2], norm: 'gn' };

/** ResNet with BasicBlocks; returns the stage outputs C2..C5 (strides 4, 8, 16, 32). */
export function resnet(b: SpecBuilder, input: string, o: ResNetOptions): [string, string, string, string] {
  const norm = (name: string, v: string) => (o.norm === 'gn' ? b.gn(name, v) : v);
  let x = b.relu(norm('backbone.stem.norm', b.conv('backbone.stem.conv', input, o.stem ?? o.widths[0], 7, 2)));
  x = b.maxpool(x, 'backbone.stem.pool');
  const stages: string[] = [];
  o.widths.forEach((w, s) => {
    for (let k = 0; k < o.blocks[s]; k++) {
      const stride = k === 0 && s > 0 ? 2 : 1;
      const p = `backbone.res${s + 2}.${k}`;
      let y = b.relu(norm(`${p}.norm1`, b.conv(`${p}.conv1`, x, w, 3, stride)));
      y = norm(`${p}.norm2`, b.conv(`${p}.conv2`, y, w, 3, 1));
      const shortcut = stride !== 1 || b.ch(x) !== w ? norm(`${p}.shortcut.norm`, b.conv(`${p}.shortcut`, x, w, 1, stride)) : x;
      x = b.relu(b.add(y, shortcut, `${p}.out`));
    }
    stages.push(x);
  });
  return stages as [string, string, string, string];
}

/** Feature Pyramid Network on C2..C5: P2..P5 with `channels` each (top-down nearest upsampling, 3x3 output convs). */
export function fpn(b: SpecBuilder, c: [string, string, string, string], channels: number): [string, string, string, string] {
  const lateral = c.map((v, i) => b.conv(`fpn.lateral${i + 2}`, v, channels, 1, 1, { bias: true }));
  const merged: string[] = new Array(4);
  merged[3] = lateral[3];
  for (let i = 2; i >= 0; i--) merged[i] = b.add(lateral[i], b.upsample2x(merged[i + 1], `fpn.top${i + 3}.up`), `fpn.merge${i + 2}`);
  return merged.map((v, i) => b.conv(`fpn.output${i + 2}`, v, channels, 3, 1, { bias: true })) as [string, string, string, string];
}

/**
 * RPN head shared across levels (detectron2 StandardRPNHead): 3x3 conv + ReLU, then per anchor an
 * objectness logit and `boxDim` deltas (4 for axis-aligned, 5 for rotated). Returns per-level
 * [objectness, deltas] value names. Objectness bias starts at the logit of a 1 % prior.
 */
export function rpnHead(b: SpecBuilder, levels: string[], anchorsPerLocation: number, boxDim: 4 | 5): [string, string][] {
  const channels = b.ch(levels[0]);
  const prior = Math.log(0.01 / 0.99);
  return levels.map((p, i) => {
    const hidden = b.relu(b.conv(`rpn.conv.l${i}`, p, channels, 3, 1, { bias: true, init: { std: 0.01 }, ...(i === 0 ? {} : { shareWith: 'rpn.conv.l0' }) }));
    const obj = b.conv(`rpn.objectness.l${i}`, hidden, anchorsPerLocation, 1, 1, { bias: true, init: { std: 0.01 }, biasInit: prior, ...(i === 0 ? {} : { shareWith: 'rpn.objectness.l0' }) });
    const deltas = b.conv(`rpn.deltas.l${i}`, hidden, anchorsPerLocation * boxDim, 1, 1, { bias: true, init: { std: 0.01 }, ...(i === 0 ? {} : { shareWith: 'rpn.deltas.l0' }) });
    return [obj, deltas];
  });
}
