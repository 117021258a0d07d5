import { type NetNode, type NetSpec, paramOwner, validateSpec } from '../../model/net/spec.ts';
import { type OpBuilder, type TensorProto, attr, makeTensor } from '../../onnx/index.ts';

/**
 * Writes a `NetSpec` (the same node list `runNet` interprets in tfjs) as standard opset-17 ONNX
 * nodes, NCHW. Parameters arrive in tfjs layouts and become graph initializers; parameters shared
 * between nodes (`shareWith`) are written once and read by every node that uses them.
 */

/** Where emitted nodes and initializers go: a main graph under construction. */
export interface GraphContext {
  ops: OpBuilder;
  /** Initializers of the graph; emitSpec appends the network's parameters here. */
  initializers: TensorProto[];
}

/** Network parameters by name (`<node>.weight`, ...), in the tfjs layouts of `paramsOf`. */
export type SpecWeights = Map<string, Float32Array>;

type Conv = Extract<NetNode, { op: 'conv2d' }>;

/** [kh, kw, ci, co] (tfjs) -> [co, ci, kh, kw] (ONNX Conv). */
export function convWeightToOihw(w: Float32Array, kernel: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kernel; y++) {
    for (let x = 0; x < kernel; x++) {
      for (let i = 0; i < ci; i++) {
        const src = ((y * kernel + x) * ci + i) * co;
        const dst = (i * kernel + y) * kernel + x;
        for (let o = 0; o < co; o++) out[o * ci * kernel * kernel + dst] = w[src + o];
      }
    }
  }
  return out;
}

/**
 * Emit `spec` into `g`. `inputs` maps each spec input to an ONNX value (NCHW); returns the ONNX
 * value of each spec output (NCHW). Initializer names are the parameter names behind the builder's
 * prefix, so two networks in one graph need builders with different prefixes.
 */
export function emitSpec(g: GraphContext, spec: NetSpec, params: SpecWeights, inputs: Record<string, string>, options: { reuseInitializers?: boolean; inputSizes?: Record<string, number> } = {}): Record<string, string> {
  validateSpec(spec);
  const b = g.ops;
  const values = new Map<string, string>();
  for (const i of spec.inputs) {
    const v = inputs[i.name];
    if (v === undefined) throw new Error(`emitSpec: no ONNX value given for spec input "${i.name}"`);
    values.set(i.name, v);
  }
  // Spatial sizes (square) where known: `inputSizes` declares them for inputs (pooled RoI features).
  // A convolution whose window covers its whole input is a fully connected layer (the box heads'
  // fc1, then 1 x 1 on 1 x 1): it is emitted as Gemm on [N, C*k*k], which onnxruntime runs as one
  // matrix product, where a Conv over N images of k x k runs N matrix-vector products, each reading
  // all the weights (fc1 on 1000 RoIs at 1024 x 256 x 7 x 7: 3.5 s instead of 0.1 s).
  const sizes = new Map<string, number>(Object.entries(options.inputSizes ?? {}));
  const flat2d = new Set<string>(); // spec values held as [N, C] (outputs of fully connected layers)
  const raw = (v: string): string => {
    const name = values.get(v);
    if (name === undefined) throw new Error(`emitSpec: value "${v}" is not defined`);
    return name;
  };
  /** A value as NCHW (fully connected outputs gain their 1 x 1 back). */
  const get = (v: string): string => (flat2d.has(v) ? b.unsqueeze(raw(v), [2, 3]) : raw(v));

  const taken = new Set(g.initializers.map((t) => t.name));
  const emitted = new Map<string, string>();
  /** One initializer per parameter, however many nodes read it. */
  const initializer = (param: string, dims: number[], layout: (w: Float32Array) => Float32Array = (w) => w): string => {
    const done = emitted.get(param);
    if (done !== undefined) return done;
    const w = params.get(param);
    const count = dims.reduce((a, d) => a * d, 1);
    if (!w) throw new Error(`emitSpec: parameter "${param}" is missing`);
    if (w.length !== count) throw new Error(`emitSpec: parameter "${param}" has ${w.length} values, expected ${count}`);
    const name = `${b.prefix}${param}`;
    if (taken.has(name)) {
      // A second application of the same network (e.g. the box head again on refined boxes) reads
      // the weights the first one wrote.
      if (options.reuseInitializers) {
        emitted.set(param, name);
        return name;
      }
      throw new Error(`emitSpec: initializer "${name}" already exists (use a builder with another prefix)`);
    }
    taken.add(name);
    g.initializers.push(makeTensor(name, 'float32', dims, layout(w)));
    emitted.set(param, name);
    return name;
  };

  // Graph-wide constants, emitted on first use only.
  let upsampleScales: string | undefined;
  const groupShapes = new Map<number, string>();

  const conv = (n: Conv): string => {
    const owner = paramOwner(n);
    const { kernel: k, inChannels: ci, outChannels: co } = n;
    const w = initializer(`${owner}.weight`, [co, ci, k, k], (x) => convWeightToOihw(x, k, ci, co));
    const size = sizes.get(n.input);
    if (size === k && n.pad.every((p) => p === 0)) {
      sizes.set(n.output, 1);
      flat2d.add(n.output);
      const x = flat2d.has(n.input) ? raw(n.input) : b.op('Flatten', [raw(n.input)], [attr.int('axis', 1)]);
      const w2d = b.reshape(w, b.int64s([co, ci * k * k]));
      return b.op('Gemm', [x, w2d, ...(n.bias ? [initializer(`${owner}.bias`, [co])] : [])], [attr.int('transB', 1)], n.output);
    }
    if (size !== undefined) sizes.set(n.output, Math.floor((size + n.pad[0] + n.pad[1] - k) / n.stride) + 1);
    const args = [get(n.input), w, ...(n.bias ? [initializer(`${owner}.bias`, [co])] : [])];
    const [top, bottom, left, right] = n.pad;
    return b.op('Conv', args, [
      attr.ints('kernel_shape', [k, k]),
      attr.ints('strides', [n.stride, n.stride]),
      // The spec writes [top, bottom, left, right]; ONNX wants all begins, then all ends.
      attr.ints('pads', [top, left, bottom, right]),
      attr.ints('dilations', [1, 1]),
      attr.int('group', 1),
    ], n.output);
  };

  const groupNorm = (n: Extract<NetNode, { op: 'groupnorm' }>): string => {
    // Opset 17 has no GroupNormalization (it arrives in 18), so: statistics per (image, group) over
    // the group's channels and H, W, exactly as run-tfjs, on a [N, G, C/G * H * W] view. ReduceMean
    // takes `axes` as an attribute up to opset 17 (an input from 18 on).
    const x = get(n.input);
    let shape = groupShapes.get(n.groups);
    if (shape === undefined) {
      shape = b.int64s([0, n.groups, -1], 'group_shape'); // 0 copies N, so the batch stays dynamic
      groupShapes.set(n.groups, shape);
    }
    const grouped = b.reshape(x, shape);
    const mean = b.op('ReduceMean', [grouped], [attr.ints('axes', [2]), attr.int('keepdims', 1)]);
    const centred = b.sub(grouped, mean);
    const variance = b.op('ReduceMean', [b.mul(centred, centred)], [attr.ints('axes', [2]), attr.int('keepdims', 1)]);
    // rsqrt(var + eps) as tfjs computes it: eps inside the root.
    const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.add(variance, b.scalar('float32', n.eps, 'eps'))])]);
    const normed = b.reshape(b.mul(centred, invStd), b.shape(x));
    const gamma = initializer(`${n.name}.gamma`, [1, n.channels, 1, 1]);
    const beta = initializer(`${n.name}.beta`, [1, n.channels, 1, 1]);
    return b.op('Add', [b.mul(normed, gamma), beta], [], n.output);
  };

  for (const n of spec.nodes) {
    let out: string;
    switch (n.op) {
      case 'conv2d':
        out = conv(n);
        break;
      case 'groupnorm':
        out = groupNorm(n);
        break;
      case 'relu':
        // Elementwise: a fully connected layer's [N, C] output stays flat.
        out = b.op('Relu', [raw(n.input)], [], n.output);
        if (flat2d.has(n.input)) flat2d.add(n.output);
        if (sizes.has(n.input)) sizes.set(n.output, sizes.get(n.input)!);
        break;
      case 'add':
        out = b.op('Add', [get(n.inputs[0]), get(n.inputs[1])], [], n.output);
        break;
      case 'maxpool': {
        // ONNX MaxPool ignores padded cells, the same as tfjs's pad-with--Infinity then 'valid'.
        const [top, bottom, left, right] = n.pad;
        out = b.op('MaxPool', [get(n.input)], [
          attr.ints('kernel_shape', [n.kernel, n.kernel]),
          attr.ints('strides', [n.stride, n.stride]),
          attr.ints('pads', [top, left, bottom, right]),
          attr.int('ceil_mode', 0),
        ], n.output);
        break;
      }
      case 'deconv2x': {
        // tfjs conv2dTranspose weight [2, 2, co, ci] -> ONNX ConvTranspose [ci, co, 2, 2]; kernel =
        // stride, so no output pixel sums overlapping taps and no flip is involved.
        const [ci, co] = [n.inChannels, n.outChannels];
        const w = initializer(`${n.name}.weight`, [ci, co, 2, 2], (x) => {
          const t = new Float32Array(x.length);
          for (let kh = 0; kh < 2; kh++) for (let kw = 0; kw < 2; kw++) for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) t[((i * co + o) * 2 + kh) * 2 + kw] = x[((kh * 2 + kw) * co + o) * ci + i];
          return t;
        });
        const bias = initializer(`${n.name}.bias`, [co]);
        out = b.op('ConvTranspose', [get(n.input), w, bias], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], n.output);
        break;
      }
      case 'upsample2x':
        // tfjs resizeNearestNeighbor (no align corners, no half-pixel centres) reads source row
        // floor(dst * in / out) = floor(dst / 2): ONNX's 'asymmetric' transform with 'floor'.
        upsampleScales ??= b.constant('float32', [4], [1, 1, 2, 2], 'up_scales');
        out = b.op('Resize', [get(n.input), '', upsampleScales], [
          attr.string('mode', 'nearest'),
          attr.string('coordinate_transformation_mode', 'asymmetric'),
          attr.string('nearest_mode', 'floor'),
        ], n.output);
        break;
    }
    values.set(n.output, out);
  }
  return Object.fromEntries(spec.outputs.map((o) => [o, get(o)]));
}
