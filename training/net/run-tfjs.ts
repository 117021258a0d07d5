import * as tf from '@tensorflow/tfjs';
import { groupNorm } from '../backend/group-norm.ts';
import { seededRandom } from '../../core/random.ts';
import { type NetSpec, type ParamSpec, paramOwner, paramsOf } from '../../model/net/spec.ts';

/** Parameters of a network by name (`<node>.weight`, `<node>.bias`, `<node>.gamma`, `<node>.beta`). */
export type NetParams = Map<string, tf.Variable>;

/** Box-Muller normal variates from emseg's seeded PRNG: the same weights on every backend and machine. */
function normals(count: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    let u = 0;
    while (u === 0) u = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const t = 2 * Math.PI * rand();
    out[i] = r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

export function initialValue(p: ParamSpec, rand: () => number): Float32Array {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const init = p.init;
  if (init === 'zeros') return new Float32Array(n);
  if (init === 'ones') return new Float32Array(n).fill(1);
  if (init === 'he') {
    // He (Kaiming) normal with fan-in kh * kw * ci ([kh, kw, ci, co] weights; for deconv2x's
    // [2, 2, co, ci] the last axis is ci, and fan-in is taken as 2 * 2 * ci the same way).
    const fanIn = p.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return normals(n, Math.sqrt(2 / fanIn), rand);
  }
  if ('std' in init) return normals(n, init.std, rand);
  return new Float32Array(n).fill(init.constant);
}

/** Create every parameter of `spec`, seeded (independent of backend: values are drawn in JS). */
export function initParams(spec: NetSpec, seed: number): NetParams {
  const rand = seededRandom(seed);
  const params: NetParams = new Map();
  // tfjs variable names are global, so they stay auto-generated; the map carries our names.
  for (const p of paramsOf(spec)) params.set(p.name, tf.variable(tf.tensor(initialValue(p, rand), p.shape), true));
  return params;
}

/** Run the network in tfjs (NHWC). Returns the spec's outputs by name. */
export function runNet(spec: NetSpec, params: NetParams, inputs: Record<string, tf.Tensor4D>): Record<string, tf.Tensor4D> {
  const values = new Map<string, tf.Tensor4D>(Object.entries(inputs));
  const get = (v: string): tf.Tensor4D => {
    const t = values.get(v);
    if (!t) throw new Error(`runNet: value "${v}" is not defined`);
    return t;
  };
  const param = (name: string): tf.Tensor => {
    const t = params.get(name);
    if (!t) throw new Error(`runNet: parameter "${name}" is missing`);
    return t;
  };
  for (const n of spec.nodes) {
    switch (n.op) {
      case 'conv2d': {
        const owner = paramOwner(n);
        const [t, b, l, r] = n.pad;
        let y = tf.conv2d(get(n.input), param(`${owner}.weight`) as tf.Tensor4D, n.stride, [[0, 0], [t, b], [l, r], [0, 0]]);
        if (n.bias) y = tf.add(y, param(`${owner}.bias`));
        values.set(n.output, y);
        break;
      }
      case 'groupnorm':
        values.set(n.output, groupNorm(get(n.input), n.groups, param(`${n.name}.gamma`), param(`${n.name}.beta`), n.eps));
        break;
      case 'relu':
        values.set(n.output, tf.relu(get(n.input)));
        break;
      case 'add':
        values.set(n.output, tf.add(get(n.inputs[0]), get(n.inputs[1])));
        break;
      case 'maxpool': {
        const [t, b, l, r] = n.pad;
        const padded = tf.pad(get(n.input), [[0, 0], [t, b], [l, r], [0, 0]], -Infinity);
        values.set(n.output, tf.maxPool(padded, n.kernel, n.stride, 'valid'));
        break;
      }
      case 'deconv2x': {
        const x = get(n.input);
        const y = tf.conv2dTranspose(x, param(`${n.name}.weight`) as tf.Tensor4D, [x.shape[0], x.shape[1] * 2, x.shape[2] * 2, n.outChannels], 2, 'valid');
        values.set(n.output, tf.add(y, param(`${n.name}.bias`)) as tf.Tensor4D);
        break;
      }
      case 'upsample2x': {
        const x = get(n.input);
        values.set(n.output, tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]));
        break;
      }
    }
  }
  return Object.fromEntries(spec.outputs.map((o) => [o, get(o)]));
}
