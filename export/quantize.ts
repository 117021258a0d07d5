import { EmsegError } from '../core/errors.ts';
import { type ActivationRange, DEFAULT_PERCENTILE, uint8Params } from '../core/quantization/activation-ranges.ts';
import { readFloat16Tensor, storeWeightsAsFloat16 } from '../onnx/fp16.ts';
import { attr, dataTypeCode, int64ToNumber, makeNode, makeTensor, onnx, readTensor, tensorValueInfo, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/index.ts';

/**
 * Static int8 quantization of an emseg model in ONNX's QDQ form (QuantizeLinear / DequantizeLinear
 * pairs around float ops), which onnxruntime fuses into integer kernels (QLinearConv: MLAS's u8 x s8
 * kernels, VNNI where the CPU has it) and any ONNX runtime can still run as written.
 *
 * What is quantized: the 3 x 3 and 1 x 1 convolutions of the backbone, the FPN and the RPN's shared
 * convolution, which hold most of the multiply-adds at image scale. Weights int8, per output
 * channel, symmetric (zero point 0, scale max|w| / 127); activations uint8, per tensor, asymmetric,
 * from calibrated ranges (core/quantization/activation-ranges.ts); biases int32 at scale
 * input scale x weight scale, as QLinearConv needs. What stays float: the stem (one input channel,
 * 1 % of the work, and the image's own precision), the RPN's objectness and box-delta layers, the
 * RoI heads inside the per-image Loop, and everything after them: proposals, NMS, box decoding,
 * masks, so that geometry and the exact in-graph NMS are unchanged. A convolution's output is
 * quantized after its ReLU when the ReLU is its only consumer (onnxruntime folds the ReLU into the
 * output range).
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Weight names of the convolutions kept in float (score and box outputs). */
const KEEP_FLOAT = /(^|\.)(objectness|deltas|cls_score|bbox_pred|rbox_pred|mask_predictor)\b/;

export interface Int8Plan {
  /** The model with float16 weights widened to float32 (the form the rewrite works on). */
  model: ModelProto;
  /** Top-level Conv nodes to quantize (indices into model.graph.node). */
  convs: number[];
  /** Tensors whose ranges calibration must provide, in graph order. */
  observe: string[];
  /** Initializers the input stored as float16: those left in float are stored so again. */
  float16: Set<string>;
}

function initializerMap(g: GraphProto): Map<string, TensorProto> {
  return new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/**
 * float16 initializers that a Cast widens (emseg-export --fp16) become float32 again and the Casts
 * go; `widened` gets their names (those left in float are stored as float16 again at the end).
 */
function widenFloat16(model: ModelProto, widenedNames: Set<string>): ModelProto {
  const g = model.graph!;
  const inits = initializerMap(g);
  const widened = new Map<string, TensorProto>();
  const nodes: NodeProto[] = [];
  for (const n of g.node ?? []) {
    const src = n.input?.[0];
    const t = src === undefined ? undefined : inits.get(src);
    const to = n.attribute?.find((a) => a.name === 'to')?.i;
    if (n.opType === 'Cast' && t?.dataType === FLOAT16 && int64ToNumber(to) === dataTypeCode('float32') && n.output?.length === 1) {
      const { dims, values } = readFloat16Tensor(t);
      widened.set(src!, makeTensor(n.output[0], 'float32', dims, values));
      widenedNames.add(n.output[0]);
      continue;
    }
    nodes.push(n);
  }
  if (widened.size === 0) return model;
  const initializer = (g.initializer ?? []).map((t) => widened.get(t.name ?? '') ?? t);
  return { ...model, graph: { ...g, node: nodes, initializer } };
}

/** Consumers of each tensor in the top-level graph: [node index, input slot]. */
function consumers(nodes: readonly NodeProto[]): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  nodes.forEach((n, i) => (n.input ?? []).forEach((name, slot) => {
    if (name) m.set(name, [...(m.get(name) ?? []), [i, slot]]);
  }));
  return m;
}

/** The tensor a convolution's output range is taken on: its ReLU's output when that is its only consumer. */
function quantizedOutput(nodes: readonly NodeProto[], uses: Map<string, [number, number][]>, conv: NodeProto): { name: string; relu: number | null } {
  const y = conv.output![0];
  const u = uses.get(y) ?? [];
  if (u.length === 1 && nodes[u[0][0]].opType === 'Relu') return { name: nodes[u[0][0]].output![0], relu: u[0][0] };
  return { name: y, relu: null };
}

/** What to quantize in `model` and which tensors to calibrate. */
export function planInt8(input: ModelProto, source = 'model'): Int8Plan {
  if (!input.graph) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: the ONNX model has no graph`, { file: source });
  const float16 = new Set<string>();
  const model = widenFloat16(input, float16);
  const g = model.graph!;
  const nodes = g.node ?? [];
  const inits = initializerMap(g);
  if ((g.node ?? []).some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: the model is quantized already`, { file: source });
  }
  const uses = consumers(nodes);
  const convs: number[] = [];
  const observe: string[] = [];
  const add = (name: string) => {
    if (!observe.includes(name)) observe.push(name);
  };
  nodes.forEach((n, i) => {
    if (n.opType !== 'Conv' || (n.input?.length ?? 0) < 2) return;
    const w = inits.get(n.input![1]);
    if (!w || w.dataType !== FLOAT || (w.dims ?? []).length !== 4 || KEEP_FLOAT.test(n.input![1])) return;
    const group = int64ToNumber(n.attribute?.find((a) => a.name === 'group')?.i) || 1;
    if (int64ToNumber(w.dims![1]) === 1 && group === 1) return; // the grey stem
    convs.push(i);
    add(n.input![0]);
    add(quantizedOutput(nodes, uses, n).name);
  });
  if (convs.length === 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: no convolution with float32 weights to quantize (not an emseg detector?)`, { file: source });
  return { model, convs, observe, float16 };
}

/** The plan's model with every observed tensor also a graph output, for calibration runs. */
export function observerModel(plan: Int8Plan): ModelProto {
  const g = plan.model.graph!;
  return { ...plan.model, graph: { ...g, output: [...(g.output ?? []), ...plan.observe.map((name) => tensorValueInfo(name, 'float32'))] } };
}

/** Replace every use of tensor `from` by `to`, in the graph and in the subgraphs that read it from outer scope, except in `skip`. */
function renameUses(g: GraphProto, from: string, to: string, skip: ReadonlySet<NodeProto>): void {
  const visit = (nodes: readonly NodeProto[]) => {
    for (const n of nodes) {
      if (skip.has(n)) continue;
      n.input = (n.input ?? []).map((x) => (x === from ? to : x));
      for (const a of n.attribute ?? []) {
        if (a.g) visit(a.g.node ?? []);
        for (const sub of a.graphs ?? []) visit(sub.node ?? []);
      }
    }
  };
  visit(g.node ?? []);
}

/** int8 per-output-channel symmetric weights of an OIHW float32 tensor. */
function quantizeWeights(w: TensorProto): { q: Int8Array; scales: Float32Array; dims: number[] } {
  const { dims, values } = readTensor(w);
  const co = dims[0];
  const per = values.length / co;
  const q = new Int8Array(values.length);
  const scales = new Float32Array(co);
  for (let c = 0; c < co; c++) {
    let max = 0;
    for (let i = 0; i < per; i++) max = Math.max(max, Math.abs(values[c * per + i]));
    const s = max > 0 ? max / 127 : 1;
    scales[c] = s;
    for (let i = 0; i < per; i++) q[c * per + i] = Math.max(-127, Math.min(127, Math.round(values[c * per + i] / s)));
  }
  return { q, scales, dims };
}

export interface Int8Options {
  /** Recorded in the metadata: how ranges were calibrated. */
  calibration: { images: number; percentile?: number };
}

/**
 * The QDQ model: plan + calibrated ranges of every observed tensor. Throws when a range is missing
 * (calibration never reached that tensor).
 */
export function applyInt8(plan: Int8Plan, ranges: ReadonlyMap<string, ActivationRange>, options: Int8Options, source = 'model'): ModelProto {
  // A deep copy (the plan keeps the float model): encode and decode.
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(onnx.ModelProto.fromObject(plan.model)).finish());
  const g = model.graph!;
  const nodes = g.node!;
  const inits = initializerMap(g);
  const newInits: TensorProto[] = [];
  const qdqNodes: NodeProto[] = [];
  const qdqAfter = new Map<string, string>(); // tensor -> its dequantized copy
  const actParams = new Map<string, { scale: number; zeroPoint: number }>();
  for (const name of plan.observe) {
    const r = ranges.get(name);
    if (!r || !Number.isFinite(r.lo) || !Number.isFinite(r.hi)) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: calibration gave no range for ${name} (no calibration image reached it)`, { file: source });
    actParams.set(name, uint8Params(r));
  }
  // Activations: x -> QuantizeLinear -> DequantizeLinear -> every former consumer of x.
  const skip = new Set<NodeProto>();
  for (const name of plan.observe) {
    const p = actParams.get(name)!;
    newInits.push(makeTensor(`${name}.q_scale`, 'float32', [], [p.scale]), makeTensor(`${name}.q_zero`, 'uint8', [], [p.zeroPoint]));
    const q = makeNode('QuantizeLinear', [name, `${name}.q_scale`, `${name}.q_zero`], [`${name}.q`], { name: `${name}.quantize` });
    const dq = makeNode('DequantizeLinear', [`${name}.q`, `${name}.q_scale`, `${name}.q_zero`], [`${name}.dq`], { name: `${name}.dequantize` });
    skip.add(q);
    renameUses(g, name, `${name}.dq`, skip);
    qdqNodes.push(q, dq);
    qdqAfter.set(name, `${name}.dq`);
  }
  // Weights (once per initializer: the RPN convolution is shared by the levels) and biases (per node:
  // their scale depends on the input's).
  const weightDq = new Map<string, { name: string; scales: Float32Array }>();
  for (const i of plan.convs) {
    const conv = nodes[i];
    const [x, wName, bName] = plan.model.graph!.node![i].input!;
    let w = weightDq.get(wName);
    if (!w) {
      const { q, scales, dims } = quantizeWeights(inits.get(wName)!);
      newInits.push(makeTensor(`${wName}.q`, 'int8', dims, q), makeTensor(`${wName}.w_scale`, 'float32', [dims[0]], scales), makeTensor(`${wName}.w_zero`, 'int8', [dims[0]], new Int8Array(dims[0])));
      qdqNodes.push(makeNode('DequantizeLinear', [`${wName}.q`, `${wName}.w_scale`, `${wName}.w_zero`], [`${wName}.dq`], { name: `${wName}.dequantize`, attributes: [attr.int('axis', 0)] }));
      w = { name: `${wName}.dq`, scales };
      weightDq.set(wName, w);
    }
    const inputs = [qdqAfter.get(x)!, w.name];
    if (bName) {
      const bias = readTensor(inits.get(bName)!).values;
      const sx = actParams.get(x)!.scale;
      const bs = Float32Array.from(w.scales, (s) => s * sx);
      const bq = Int32Array.from(bias, (b, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / bs[c]))));
      const tag = `${bName}.n${i}`;
      newInits.push(makeTensor(`${tag}.q`, 'int32', [bq.length], bq), makeTensor(`${tag}.b_scale`, 'float32', [bq.length], bs), makeTensor(`${tag}.b_zero`, 'int32', [bq.length], new Int32Array(bq.length)));
      qdqNodes.push(makeNode('DequantizeLinear', [`${tag}.q`, `${tag}.b_scale`, `${tag}.b_zero`], [`${tag}.dq`], { name: `${tag}.dequantize`, attributes: [attr.int('axis', 0)] }));
      inputs.push(`${tag}.dq`);
    }
    conv.input = inputs;
  }
  // Place each Q/DQ right after its input is produced: weights' and biases' first, then the rest in
  // graph order (ONNX wants nodes topologically sorted).
  const produced = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => produced.set(o, i)));
  const after = new Map<number, NodeProto[]>();
  const head: NodeProto[] = [];
  const qOutputs = new Set(qdqNodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.output![0]));
  for (const n of qdqNodes) {
    const src = n.input![0];
    if (qOutputs.has(src)) continue; // an activation's DequantizeLinear: placed right after its Quantize below
    const at = produced.get(src);
    if (at === undefined) head.push(n);
    else after.set(at, [...(after.get(at) ?? []), n]);
  }
  // A DequantizeLinear placed after its Quantize: Q nodes follow the producer, DQ follow Q.
  const ordered: NodeProto[] = [];
  const place = (list: readonly NodeProto[]) => {
    for (const q of list) {
      ordered.push(q);
      const dq = q.opType === 'QuantizeLinear' ? qdqNodes.find((d) => d.input![0] === q.output![0]) : undefined;
      if (dq) ordered.push(dq);
    }
  };
  place(head);
  nodes.forEach((n, i) => {
    ordered.push(n);
    place(after.get(i) ?? []);
  });
  // Unused float weights and biases go (they live on only as their quantized copies).
  const stillUsed = new Set<string>();
  const collect = (ns: readonly NodeProto[]) => {
    for (const n of ns) {
      for (const x of n.input ?? []) stillUsed.add(x);
      for (const a of n.attribute ?? []) {
        if (a.g) collect(a.g.node ?? []);
        for (const sub of a.graphs ?? []) collect(sub.node ?? []);
      }
    }
  };
  collect(ordered);
  const kept = [...(g.initializer ?? []).filter((t) => stillUsed.has(t.name ?? '')), ...newInits];
  const half = storeWeightsAsFloat16(kept, ordered, (name) => plan.float16.has(name));
  g.node = half.nodes;
  g.initializer = half.initializers;
  const percentile = options.calibration.percentile ?? DEFAULT_PERCENTILE;
  const note = JSON.stringify({
    format: 'qdq',
    weights: 'int8, per output channel, symmetric',
    activations: 'uint8, per tensor, asymmetric',
    calibration: { method: 'percentile', percentile, images: options.calibration.images },
    quantized: `${plan.convs.length} convolutions (backbone, FPN, RPN); stem, heads, NMS and geometry in float32`,
  });
  model.metadataProps = [...(model.metadataProps ?? []).filter((p) => p.key !== QUANTIZATION_KEY), { key: QUANTIZATION_KEY, value: note }];
  return model;
}

/** Metadata key of an int8 model's quantization record. */
export const QUANTIZATION_KEY = 'emseg.quantization';

/**
 * Runs the observer model on the calibration images and returns each observed tensor's range. The
 * Node SDK provides it (sdk-node/calibrate.ts): export/ runs no model itself.
 */
export type Calibrator = (observerModel: Uint8Array, source: string, observe: readonly string[]) => Promise<{ ranges: Map<string, ActivationRange>; images: number }>;

/** A float model (fp32 or fp16 weights) -> its int8 QDQ form, calibrated by `calibrate`. */
export async function quantizeModel(model: ModelProto, calibrate: Calibrator, source = 'model', percentile = DEFAULT_PERCENTILE): Promise<{ model: ModelProto; convolutions: number; images: number }> {
  const plan = planInt8(model, source);
  const { ranges, images } = await calibrate(onnx.ModelProto.encode(onnx.ModelProto.fromObject(observerModel(plan))).finish(), source, plan.observe);
  return { model: applyInt8(plan, ranges, { calibration: { images, percentile } }, source), convolutions: plan.convs.length, images };
}
