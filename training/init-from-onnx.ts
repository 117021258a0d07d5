import { readFile } from 'node:fs/promises';
import { EmsegError } from '../core/errors.ts';
import { readFloat16Tensor } from '../onnx/fp16.ts';
import { dataTypeCode, int64ToNumber, onnx } from '../onnx/index.ts';
import { decodeModel } from '../onnx/model.ts';
import { readTensor } from '../onnx/tensor.ts';
import type { ParamSpec } from '../model/net/spec.ts';

/**
 * Backbone initialisation from an ONNX file a user brings (e.g. an ImageNet ResNet-18 exported from
 * torchvision or the ONNX model zoo), read through emseg's own protobuf layer (export/onnx).
 *
 * Tensors are mapped to emseg's backbone parameters
 * 1. by name: an initializer named like the parameter (`backbone.res2.0.conv1.weight`, as emseg's
 *    own exports write them) with the expected shape;
 * 2. by shape, in order: the remaining convolution weights of each shape [co, ci, k, k] are handed
 *    out in the file's order to emseg's convolutions of that shape in the network's order. ResNets
 *    list their convolutions stem first, then stage by stage, as emseg's spec does, so the i-th
 *    3 x 3 64 -> 64 convolution of one is the i-th of the other, however 1 x 1 shortcuts interleave.
 *    A stem trained on RGB ([co, 3, k, k]) initialises emseg's grey stem ([co, 1, k, k]) with the
 *    sum over the colour channels (a grey image is R = G = B).
 * Float16 weights (`emseg-export --fp16`, e.g. the zoo models) are widened to float32 and named by
 * the Cast that widens them in the graph (`x.fp16` -> Cast -> `x`), so a zoo model initialises a
 * backbone by name like an fp32 export.
 * Normalisation parameters are taken by name only: ImageNet models use batch norm, emseg group norm,
 * and batch-norm scales are not group-norm scales. ONNX convolution weights are OIHW, tfjs's HWIO.
 */
export interface BackboneInit {
  /** Parameter name -> values in the tfjs layout. */
  values: Map<string, Float32Array>;
  byName: string[];
  byShape: { param: string; from: string }[];
  /** Backbone parameters left at their initialisation. */
  unmatched: string[];
}

interface OnnxWeight {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** OIHW [co, ci, k, k] -> HWIO [k, k, ci, co]. */
export function oihwToHwio(w: Float32Array, co: number, ci: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) {
    out[((y * k + x) * ci + i) * co + o] = w[((o * ci + i) * k + y) * k + x];
  }
  return out;
}

/** Sum over input channels: [co, ci, k, k] -> [co, 1, k, k]. */
function sumInputChannels(w: Float32Array, co: number, ci: number, k: number): Float32Array {
  const out = new Float32Array(co * k * k);
  for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let j = 0; j < k * k; j++) out[o * k * k + j] += w[(o * ci + i) * k * k + j];
  return out;
}

const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export function mapBackboneFromOnnx(bytes: Uint8Array, file: string, targets: readonly Pick<ParamSpec, 'name' | 'shape'>[]): BackboneInit {
  const model = decodeModel(bytes, file);
  const weights: OnnxWeight[] = [];
  // Float16 initializer name -> the float32 name a Cast gives it in the graph.
  const widenedName = new Map<string, string>();
  for (const n of model.graph?.node ?? []) {
    const to = n.attribute?.find((a) => a.name === 'to')?.i;
    if (n.opType === 'Cast' && n.input?.length === 1 && n.output?.length === 1 && int64ToNumber(to) === dataTypeCode('float32')) widenedName.set(n.input[0], n.output[0]);
  }
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? '';
    try {
      if (t.dataType === onnx.TensorProto.DataType.FLOAT16) {
        const { dims, values } = readFloat16Tensor(t);
        weights.push({ name: widenedName.get(name) ?? name, dims, values });
        continue;
      }
      const tensor = readTensor(t);
      if (tensor.type === 'float32') weights.push({ name, dims: tensor.dims, values: Float32Array.from(tensor.values) });
    } catch {
      continue; // a type emseg does not read or a malformed constant: never a backbone weight here
    }
  }
  if (weights.length === 0) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: the ONNX model has no float32 or float16 initializers to initialise a backbone from`, { file });
  const result: BackboneInit = { values: new Map(), byName: [], byShape: [], unmatched: [] };
  const used = new Set<OnnxWeight>();
  const isConv = (p: Pick<ParamSpec, 'name' | 'shape'>): boolean => p.shape.length === 4 && p.name.endsWith('.weight');
  const onnxDims = (p: Pick<ParamSpec, 'name' | 'shape'>): number[] => (isConv(p) ? [p.shape[3], p.shape[2], p.shape[0], p.shape[1]] : p.shape);
  // 1. By name.
  const byName = new Map(weights.map((w) => [w.name, w]));
  for (const p of targets) {
    const w = byName.get(p.name);
    // Vectors may be stored broadcastable (emseg writes group-norm scales as [1, C, 1, 1]).
    const squeeze = (d: readonly number[]): number[] => d.filter((v) => v !== 1);
    if (!w || !(sameDims(w.dims, onnxDims(p)) || (!isConv(p) && sameDims(squeeze(w.dims), squeeze(p.shape))))) continue;
    result.values.set(p.name, isConv(p) ? oihwToHwio(w.values, p.shape[3], p.shape[2], p.shape[0]) : w.values);
    result.byName.push(p.name);
    used.add(w);
  }
  // 2. Convolutions by shape, in order, one queue per [co, ci, k, k].
  const queues = new Map<string, OnnxWeight[]>();
  for (const w of weights) {
    if (used.has(w) || w.dims.length !== 4) continue;
    const key = w.dims.join('x');
    queues.set(key, [...(queues.get(key) ?? []), w]);
  }
  for (const p of targets) {
    // Only the backbone is matched by shape (a foreign ResNet's convolutions in network order); FPN
    // and RPN tensors come from emseg's own exports, by name, or stay at their initialisation.
    if (result.values.has(p.name) || !isConv(p) || !p.name.startsWith('backbone.')) continue;
    const [k, , ci, co] = p.shape;
    let w = queues.get([co, ci, k, k].join('x'))?.shift();
    let values: Float32Array | undefined;
    if (w) values = w.values;
    else if (ci === 1) {
      // A colour stem for emseg's grey one.
      w = queues.get([co, 3, k, k].join('x'))?.shift();
      if (w) values = sumInputChannels(w.values, co, 3, k);
    }
    if (!w || !values) continue;
    result.values.set(p.name, oihwToHwio(values, co, ci, k));
    result.byShape.push({ param: p.name, from: w.name });
  }
  result.unmatched = targets.filter((p) => !result.values.has(p.name)).map((p) => p.name);
  if (result.values.size === 0) {
    const convs = targets.filter(isConv).slice(0, 3).map((p) => `${p.name} [${onnxDims(p).join(', ')}]`);
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: no tensor matches the backbone by name or shape (emseg's first convolutions: ${convs.join('; ')}; set config.backbone.widths to the file's, e.g. [64, 128, 256, 512] for ResNet-18)`, { file });
  }
  return result;
}

export async function readBackboneInit(file: string, targets: readonly Pick<ParamSpec, 'name' | 'shape'>[]): Promise<BackboneInit> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new EmsegError('EMSEG_FILE_READ', `${file}: cannot read the ONNX file (${(e as Error).message})`, { file, cause: e });
  }
  return mapBackboneFromOnnx(bytes, file, targets);
}
