import { EmsegError } from '../core/errors.ts';
import { type ActivationRange, DEFAULT_PERCENTILE, uint8Params } from '../core/quantization/activation-ranges.ts';
import { readFloat16Tensor, storeWeightsAsFloat16 } from '../onnx/fp16.ts';
import { attr, dataTypeCode, encodeModel, forEachNode, int64ToNumber, makeNode, renameInputs, makeTensor, onnx, readTensor, tensorValueInfo, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/index.ts';

/**
 * Static int8 quantization of an emseg model in ONNX's QDQ form (QuantizeLinear / DequantizeLinear
 * pairs around float ops), which onnxruntime fuses into integer kernels (QLinearConv: MLAS's u8 x s8
 * kernels, VNNI where the CPU has it) and any ONNX runtime can still run as written.
 *
 * What is quantized: the 3 x 3 and 1 x 1 convolutions of the backbone, the FPN and the RPN's shared
 * convolution, and the mask head's 3 x 3 convolutions inside the per-image Loop: most of the
 * multiply-adds. Weights int8, per output channel, symmetric (zero point 0, scale max|w| / 127);
 * activations uint8, per tensor, asymmetric, from calibrated ranges
 * (core/quantization/activation-ranges.ts); biases int32 at scale input scale x weight scale, as
 * QLinearConv needs. What stays float: the stem (one input channel, 1 % of the work, and the
 * image's own precision), the RPN's objectness and box-delta layers, the box heads' fully connected
 * layers and predictors, the mask deconvolution and predictor, and everything after them:
 * proposals, NMS, box decoding, masks, so that geometry and the exact in-graph NMS are unchanged. A
 * convolution's output is quantized after its ReLU when the ReLU is its only consumer (onnxruntime
 * folds the ReLU into the output range), except inside the Loop (see planScope).
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Weight names of the convolutions kept in float (score and box outputs). */
const KEEP_FLOAT = /(^|\.)(objectness|deltas|cls_score|bbox_pred|rbox_pred|mask_predictor)\b/;

/** One graph whose convolutions are quantized: the main graph or the per-image Loop's body. */
export interface Int8Scope {
  /** Index (in the main graph) of the Loop node whose body this is; null for the main graph. */
  loop: number | null;
  /** Conv nodes to quantize (indices into this scope's node list). */
  convs: number[];
  /** Tensors of this scope whose ranges calibration must provide. */
  observe: string[];
}

export interface Int8Plan {
  /** The model with float16 weights widened to float32 (the form the rewrite works on). */
  model: ModelProto;
  scopes: Int8Scope[];
  /** Names calibration observes (graph outputs of the observer model), over all scopes. */
  observe: string[];
  /** Initializers the input stored as float16: those left in float are stored so again. */
  float16: Set<string>;
}

/** A Loop body's tensor as an output of the observer model (a scan output of the Loop). */
const observedName = (scope: Int8Scope, name: string): string => (scope.loop === null ? name : `${name}.observed`);

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

/** Consumers of each tensor in one graph: [node index, input slot]. */
function consumers(nodes: readonly NodeProto[]): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  nodes.forEach((n, i) => (n.input ?? []).forEach((name, slot) => {
    if (name) m.set(name, [...(m.get(name) ?? []), [i, slot]]);
  }));
  return m;
}

/** The tensor a convolution's output range is taken on: its ReLU's output when that is its only consumer. */
function quantizedOutput(nodes: readonly NodeProto[], uses: Map<string, [number, number][]>, conv: NodeProto): string {
  const y = conv.output![0];
  const u = uses.get(y) ?? [];
  return u.length === 1 && nodes[u[0][0]].opType === 'Relu' ? nodes[u[0][0]].output![0] : y;
}

const loopBody = (n: NodeProto): GraphProto | undefined => (n.opType === 'Loop' ? n.attribute?.find((a) => a.name === 'body')?.g ?? undefined : undefined);

/** The convolutions of one graph to quantize (weights: main-graph initializers) and the tensors to observe. */
function planScope(nodes: readonly NodeProto[], inits: ReadonlyMap<string, TensorProto>, loop: number | null): Int8Scope {
  const uses = consumers(nodes);
  const scope: Int8Scope = { loop, convs: [], observe: [] };
  const add = (name: string) => {
    if (!scope.observe.includes(name)) scope.observe.push(name);
  };
  nodes.forEach((n, i) => {
    if (n.opType !== 'Conv' || (n.input?.length ?? 0) < 2) return;
    const w = inits.get(n.input![1]);
    if (!w || w.dataType !== FLOAT || (w.dims ?? []).length !== 4 || KEEP_FLOAT.test(n.input![1])) return;
    const group = int64ToNumber(n.attribute?.find((a) => a.name === 'group')?.i) || 1;
    if (int64ToNumber(w.dims![1]) === 1 && group === 1) return; // the grey stem
    // In the RoI heads only the mask head's 3 x 3 convolutions: the box head's layers are fully
    // connected (Gemm; as Conv in older exports, one matrix-vector product per RoI either way).
    if (loop !== null && int64ToNumber(w.dims![2]) !== 3) return;
    scope.convs.push(i);
    add(n.input![0]);
    // In a Loop body, onnxruntime 1.30's extended optimisations fail on a ReLU folded into a
    // QLinearConv ("two nodes with same node name"): there the output is quantized before the ReLU.
    add(loop === null ? quantizedOutput(nodes, uses, n) : n.output![0]);
  });
  return scope;
}

/** What to quantize in `model` and which tensors to calibrate. */
export function planInt8(input: ModelProto, source = 'model'): Int8Plan {
  if (!input.graph) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: the ONNX model has no graph`, { file: source });
  const float16 = new Set<string>();
  const model = widenFloat16(input, float16);
  const g = model.graph!;
  const nodes = g.node ?? [];
  const inits = initializerMap(g);
  const all = [...nodes, ...nodes.flatMap((n) => loopBody(n)?.node ?? [])];
  if (all.some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: the model is quantized already`, { file: source });
  }
  const scopes = [planScope(nodes, inits, null)];
  nodes.forEach((n, i) => {
    const body = loopBody(n);
    if (body) scopes.push(planScope(body.node ?? [], inits, i));
  });
  const used = scopes.filter((s) => s.convs.length > 0);
  if (used.length === 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: no convolution with float32 weights to quantize (not an emseg detector?)`, { file: source });
  return { model, scopes: used, observe: used.flatMap((s) => s.observe.map((name) => observedName(s, name))), float16 };
}

/** Convolutions the plan quantizes, over all scopes. */
export const plannedConvolutions = (plan: Int8Plan): number => plan.scopes.reduce((n, s) => n + s.convs.length, 0);

const deepCopy = (m: ModelProto): ModelProto => onnx.ModelProto.decode(onnx.ModelProto.encode(onnx.ModelProto.fromObject(m)).finish());

/**
 * The plan's model with every observed tensor also a graph output, for calibration runs: a Loop
 * body's tensors leave the body as extra scan outputs (one image per run: one iteration).
 */
export function observerModel(plan: Int8Plan): ModelProto {
  const model = deepCopy(plan.model);
  const g = model.graph!;
  const extra: string[] = [];
  for (const scope of plan.scopes) {
    if (scope.loop !== null) {
      const loop = g.node![scope.loop];
      const body = loopBody(loop)!;
      body.output = [...(body.output ?? []), ...scope.observe.map((name) => tensorValueInfo(name, 'float32'))];
      loop.output = [...(loop.output ?? []), ...scope.observe.map((name) => observedName(scope, name))];
    }
    extra.push(...scope.observe.map((name) => observedName(scope, name)));
  }
  g.output = [...(g.output ?? []), ...extra.map((name) => tensorValueInfo(name, 'float32'))];
  return model;
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
 * One scope's rewrite: Q/DQ pairs after each observed tensor (every reader switched to the
 * dequantized copy), int8 weights and int32 biases behind DequantizeLinear nodes in the same graph
 * (onnxruntime fuses only within a graph), each new node placed right after its input's producer.
 * New initializers go to `newInits` (the main graph's; bodies read them from outer scope).
 */
function rewriteScope(scope: Int8Scope, nodes: NodeProto[], original: readonly NodeProto[], inits: ReadonlyMap<string, TensorProto>, ranges: ReadonlyMap<string, ActivationRange>, newInits: TensorProto[], source: string): NodeProto[] {
  const tag = scope.loop === null ? '' : `.loop${scope.loop}`;
  const qdqNodes: NodeProto[] = [];
  const actParams = new Map<string, { scale: number; zeroPoint: number }>();
  const readDequantized = new Map<string, string>();
  for (const name of scope.observe) {
    const r = ranges.get(observedName(scope, name));
    if (!r || !Number.isFinite(r.lo) || !Number.isFinite(r.hi)) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${source}: calibration gave no range for ${name} (no calibration image reached it)`, { file: source });
    const p = uint8Params(r);
    actParams.set(name, p);
    newInits.push(makeTensor(`${name}.q_scale`, 'float32', [], [p.scale]), makeTensor(`${name}.q_zero`, 'uint8', [], [p.zeroPoint]));
    readDequantized.set(name, `${name}.dq`);
    qdqNodes.push(
      makeNode('QuantizeLinear', [name, `${name}.q_scale`, `${name}.q_zero`], [`${name}.q`], { name: `${name}.quantize` }),
      makeNode('DequantizeLinear', [`${name}.q`, `${name}.q_scale`, `${name}.q_zero`], [`${name}.dq`], { name: `${name}.dequantize` }),
    );
  }
  // Every reader of an observed tensor (subgraphs too: Loop bodies read FPN levels by name) reads its
  // dequantized copy; the Q/DQ nodes are not in `nodes` yet, so they keep reading the original.
  renameInputs(nodes, readDequantized);
  const weightDq = new Map<string, { name: string; scales: Float32Array }>();
  for (const i of scope.convs) {
    const [x, wName, bName] = original[i].input!;
    let w = weightDq.get(wName);
    if (!w) {
      const { q, scales, dims } = quantizeWeights(inits.get(wName)!);
      if (!newInits.some((t) => t.name === `${wName}.q`)) {
        newInits.push(makeTensor(`${wName}.q`, 'int8', dims, q), makeTensor(`${wName}.w_scale`, 'float32', [dims[0]], scales), makeTensor(`${wName}.w_zero`, 'int8', [dims[0]], new Int8Array(dims[0])));
      }
      qdqNodes.push(makeNode('DequantizeLinear', [`${wName}.q`, `${wName}.w_scale`, `${wName}.w_zero`], [`${wName}${tag}.dq`], { name: `${wName}${tag}.dequantize`, attributes: [attr.int('axis', 0)] }));
      w = { name: `${wName}${tag}.dq`, scales };
      weightDq.set(wName, w);
    }
    const inputs = [`${x}.dq`, w.name];
    if (bName) {
      const bias = readTensor(inits.get(bName)!).values;
      const bs = Float32Array.from(w.scales, (s) => s * actParams.get(x)!.scale);
      const bq = Int32Array.from(bias, (b, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / bs[c]))));
      const b = `${bName}${tag}.n${i}`;
      newInits.push(makeTensor(`${b}.q`, 'int32', [bq.length], bq), makeTensor(`${b}.b_scale`, 'float32', [bq.length], bs), makeTensor(`${b}.b_zero`, 'int32', [bq.length], new Int32Array(bq.length)));
      qdqNodes.push(makeNode('DequantizeLinear', [`${b}.q`, `${b}.b_scale`, `${b}.b_zero`], [`${b}.dq`], { name: `${b}.dequantize`, attributes: [attr.int('axis', 0)] }));
      inputs.push(`${b}.dq`);
    }
    nodes[i].input = inputs;
  }
  // Placement: each Q right after its input's producer and its DQ right after it; weight and bias
  // DQs (inputs are initializers) first (ONNX wants nodes topologically sorted).
  const produced = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => produced.set(o, i)));
  const qOutputs = new Set(qdqNodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.output![0]));
  const after = new Map<number, NodeProto[]>();
  const head: NodeProto[] = [];
  for (const n of qdqNodes) {
    if (qOutputs.has(n.input![0])) continue; // an activation's DequantizeLinear: placed right after its Quantize below
    const at = produced.get(n.input![0]);
    if (at === undefined) head.push(n);
    else after.set(at, [...(after.get(at) ?? []), n]);
  }
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
  return ordered;
}

/**
 * The QDQ model: plan + calibrated ranges of every observed tensor. Throws when a range is missing
 * (calibration never reached that tensor).
 */
export function applyInt8(plan: Int8Plan, ranges: ReadonlyMap<string, ActivationRange>, options: Int8Options, source = 'model'): ModelProto {
  const model = deepCopy(plan.model);
  const g = model.graph!;
  const inits = initializerMap(g);
  const newInits: TensorProto[] = [];
  // Bodies first: the main graph's rewrite renames tensors that bodies read from outer scope, and
  // a body's node indices must still be the plan's.
  for (const scope of [...plan.scopes].sort((a, b) => (a.loop === null ? 1 : 0) - (b.loop === null ? 1 : 0))) {
    if (scope.loop === null) {
      g.node = rewriteScope(scope, g.node!, plan.model.graph!.node!, inits, ranges, newInits, source);
    } else {
      const body = loopBody(g.node![scope.loop])!;
      body.node = rewriteScope(scope, body.node!, loopBody(plan.model.graph!.node![scope.loop])!.node!, inits, ranges, newInits, source);
    }
  }
  // Float weights and biases that now live on only as quantized copies go.
  const stillUsed = new Set<string>();
  forEachNode(g.node!, (n) => {
    for (const x of n.input ?? []) stillUsed.add(x);
  });
  const kept = [...(g.initializer ?? []).filter((t) => stillUsed.has(t.name ?? '')), ...newInits];
  const half = storeWeightsAsFloat16(kept, g.node!, (name) => plan.float16.has(name));
  g.node = half.nodes;
  g.initializer = half.initializers;
  const percentile = options.calibration.percentile ?? DEFAULT_PERCENTILE;
  const where = plan.scopes.map((s) => `${s.convs.length} ${s.loop === null ? 'at image scale (backbone, FPN, RPN)' : 'in the RoI heads'}`).join(', ');
  const note = JSON.stringify({
    format: 'qdq',
    weights: 'int8, per output channel, symmetric',
    activations: 'uint8, per tensor, asymmetric',
    calibration: { method: 'percentile', percentile, images: options.calibration.images },
    quantized: `${plannedConvolutions(plan)} convolutions: ${where}; stem, predictors, fully connected layers, NMS and geometry in float32`,
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
  const { ranges, images } = await calibrate(encodeModel(observerModel(plan)), source, plan.observe);
  return { model: applyInt8(plan, ranges, { calibration: { images, percentile } }, source), convolutions: plannedConvolutions(plan), images };
}
