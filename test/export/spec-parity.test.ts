import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { seededRandom } from '../../core/random.ts';
import { buildSpecModel, type SpecWeights } from '../../export/net/index.ts';
import { decodeModel, encodeModel, type ModelProto } from '../../onnx/index.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { defaultRotatedRcnnConfig } from '../../model/detection/config.ts';
import { backboneSpec, boxHeadSpec } from '../../model/detection/specs.ts';
import { type NetParams, initParams, runNet } from '../../training/net/run-tfjs.ts';
import { type NetSpec, paramsOf } from '../../model/net/spec.ts';
import { pythonOnnxAvailable, requireTool } from '../helpers/tools.ts';

/**
 * The ONNX export of a NetSpec computes what the tfjs interpreter computes: same parameters, same
 * input, every output compared element by element in onnxruntime-node (CPU) and onnxruntime-web
 * (wasm), after moving tfjs's NHWC to ONNX's NCHW.
 */

/** Every node type, asymmetric pads (to catch a wrong pads order), an even kernel, shared convs. */
function coverageSpec(): NetSpec {
  const conv = (name: string, input: string, ci: number, co: number, kernel: number, stride: number, pad: [number, number, number, number], bias: boolean, shareWith?: string) =>
    ({ op: 'conv2d' as const, name, input, output: name, kernel, stride, pad, inChannels: ci, outChannels: co, bias, init: 'he' as const, ...(shareWith ? { shareWith } : {}) });
  return {
    inputs: [{ name: 'image', channels: 3 }],
    nodes: [
      conv('c1', 'image', 3, 8, 3, 2, [1, 2, 0, 1], true), // [20, 28] -> [11, 14]
      { op: 'groupnorm', name: 'g1', input: 'c1', output: 'g1', channels: 8, groups: 4, eps: 1e-5 },
      { op: 'relu', input: 'g1', output: 'r1' },
      { op: 'maxpool', input: 'r1', output: 'p1', kernel: 3, stride: 2, pad: [0, 1, 1, 0] }, // -> [5, 7]
      conv('c2', 'p1', 8, 8, 3, 1, [1, 1, 1, 1], false),
      { op: 'relu', input: 'c2', output: 'r2' },
      conv('c3', 'r2', 8, 8, 3, 1, [1, 1, 1, 1], false, 'c2'),
      { op: 'upsample2x', input: 'c3', output: 'up' }, // -> [10, 14]
      conv('c4', 'r1', 8, 8, 2, 1, [0, 0, 0, 1], true), // even kernel: [11, 14] -> [10, 14]
      { op: 'add', inputs: ['up', 'c4'], output: 'sum' },
      { op: 'groupnorm', name: 'g2', input: 'sum', output: 'g2', channels: 8, groups: 1, eps: 1e-3 },
      conv('c5', 'g2', 8, 6, 1, 1, [0, 0, 0, 0], true),
      conv('c6', 'p1', 8, 6, 1, 1, [0, 0, 0, 0], true, 'c5'),
      // Negative inputs to a padded pool: padding must never win the max.
      { op: 'maxpool', input: 'c5', output: 'p2', kernel: 2, stride: 2, pad: [1, 1, 0, 1] },
    ],
    outputs: ['g2', 'c6', 'p2', 'c1'],
  };
}

const rcnn = defaultRotatedRcnnConfig(['nanorod']);

interface Case {
  name: string;
  spec: NetSpec;
  seed: number;
  inputDims: [number, number, number, number]; // NCHW
  /** Check file size against the float32 weight bytes (not for toy networks, where the graph dominates). */
  sizeTarget: boolean;
}

const CASES: Case[] = [
  { name: 'coverage spec', spec: coverageSpec(), seed: 11, inputDims: [2, 3, 20, 28], sizeTarget: false },
  { name: 'backbone (ResNet + FPN + RPN head)', spec: backboneSpec(rcnn), seed: 7, inputDims: [1, 1, 96, 128], sizeTarget: true },
  { name: 'box head', spec: boxHeadSpec(rcnn), seed: 5, inputDims: [5, rcnn.fpnChannels, 7, 7], sizeTarget: true },
];

/**
 * initParams leaves biases at 0 (or a constant) and GroupNorm at gamma 1, beta 0: those would not
 * reveal a wrong bias, scale or shift mapping. Give them random values before comparing.
 */
function randomizedParams(spec: NetSpec, seed: number): { tfParams: NetParams; weights: SpecWeights } {
  const tfParams = initParams(spec, seed);
  const rand = seededRandom(seed + 1000);
  for (const p of paramsOf(spec)) {
    if (p.init === 'he' || (typeof p.init === 'object' && 'std' in p.init)) continue;
    const base = p.init === 'ones' ? 1 : 0;
    const v = tfParams.get(p.name);
    assert.ok(v);
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => base + rand() - 0.5), v.shape));
  }
  const weights: SpecWeights = new Map();
  for (const [name, v] of tfParams) weights.set(name, Float32Array.from(v.dataSync()));
  return { tfParams, weights };
}

function randomInput(dims: readonly number[], seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => 2 * rand() - 1);
}

function nchwToNhwc(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + k] = x[(b * c + k) * h * w + i];
  return out;
}

function nhwcToNchw(x: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) out[(b * c + k) * h * w + i] = x[(b * h * w + i) * c + k];
  return out;
}

interface Output { dims: number[]; data: Float32Array }

function runTfjs(spec: NetSpec, params: NetParams, input: Float32Array, [n, c, h, w]: readonly number[]): Record<string, Output> {
  const outs = tf.tidy(() => runNet(spec, params, { [spec.inputs[0].name]: tf.tensor4d(nchwToNhwc(input, [n, c, h, w]), [n, h, w, c]) }));
  const result: Record<string, Output> = {};
  for (const [name, t] of Object.entries(outs)) {
    const [on, oh, ow, oc] = t.shape;
    result[name] = { dims: [on, oc, oh, ow], data: nhwcToNchw(t.dataSync() as Float32Array, t.shape) };
    t.dispose();
  }
  return result;
}

type Ort = typeof ortNode;
const RUNTIMES: { name: string; ort: Ort; ep: string }[] = [
  { name: 'onnxruntime-node cpu', ort: ortNode, ep: 'cpu' },
  { name: 'onnxruntime-web wasm', ort: ortWeb as unknown as Ort, ep: 'wasm' },
];

async function runOnnx(rt: (typeof RUNTIMES)[number], bytes: Uint8Array, inputName: string, input: Float32Array, dims: number[]): Promise<Record<string, Output>> {
  const session = await rt.ort.InferenceSession.create(bytes, { executionProviders: [rt.ep] });
  try {
    const out = await session.run({ [inputName]: new rt.ort.Tensor('float32', input, dims) });
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
  } finally {
    await session.release();
  }
}

/** Largest absolute difference, and the largest reference magnitude (the output's scale). */
function maxError(want: Output, got: Output): { err: number; scale: number } {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.data.length; i++) {
    err = Math.max(err, Math.abs(want.data[i] - got.data[i]));
    scale = Math.max(scale, Math.abs(want.data[i]));
  }
  return { err, scale };
}

interface Exported extends Case {
  model: ModelProto;
  bytes: Uint8Array;
  tfParams: NetParams;
  weightBytes: number;
  exportMs: number;
}

const exported: Exported[] = [];
let workDir = '';

before(async () => {
  await selectBackend('wasm');
  ortWeb.env.wasm.numThreads = 1;
  workDir = mkdtempSync(join(tmpdir(), 'emseg-spec-parity-'));
  for (const c of CASES) {
    const { tfParams, weights } = randomizedParams(c.spec, c.seed);
    const start = performance.now();
    const model = buildSpecModel(c.spec, weights, { name: c.name, metadata: { net: c.name } });
    const bytes = encodeModel(model);
    const exportMs = performance.now() - start;
    const weightBytes = paramsOf(c.spec).reduce((s, p) => s + 4 * p.shape.reduce((a, b) => a * b, 1), 0);
    exported.push({ ...c, model, bytes, tfParams, weightBytes, exportMs });
  }
});

after(() => {
  for (const e of exported) for (const v of e.tfParams.values()) v.dispose();
  rmSync(workDir, { recursive: true, force: true });
});

describe('NetSpec -> ONNX (opset 17) parity with the tfjs interpreter', () => {
  for (const c of CASES) {
    it(`${c.name}: every output matches tfjs within 1e-4 in onnxruntime-node and -web`, async () => {
      const e = exported.find((x) => x.name === c.name);
      assert.ok(e);
      const input = randomInput(c.inputDims, c.seed + 1);
      const want = runTfjs(c.spec, e.tfParams, input, c.inputDims);
      for (const rt of RUNTIMES) {
        const got = await runOnnx(rt, e.bytes, c.spec.inputs[0].name, input, [...c.inputDims]);
        assert.deepEqual(Object.keys(got).sort(), [...c.spec.outputs].sort());
        let worst = { err: 0, scale: 0, output: '' };
        for (const o of c.spec.outputs) {
          assert.deepEqual(got[o].dims, want[o].dims, `${rt.name}: ${o} dims`);
          const m = maxError(want[o], got[o]);
          if (m.err > worst.err) worst = { ...m, output: o };
          // Absolute 1e-4 holds even for the backbone's unnormalised FPN outputs (scale ~30, measured
          // ~5e-5, ~2e-6 relative: float32 summation order); a wrong layout or pad gives O(1) errors.
          assert.ok(m.err <= 1e-4, `${rt.name}: ${c.name} ${o}: max |error| ${m.err.toExponential(2)} (output scale ${m.scale.toFixed(3)})`);
        }
        console.log(`${c.name} [${c.inputDims.join(', ')}], ${rt.name}: max |error| ${worst.err.toExponential(2)} at ${worst.output} (output scale ${worst.scale.toFixed(3)}, relative ${(worst.err / worst.scale).toExponential(1)})`);
      }
    });
  }

  it('writes every parameter once (shared convs read the same initializer) and only standard opset-17 ops', () => {
    const allowed = new Set(['Conv', 'Reshape', 'ReduceMean', 'Sub', 'Mul', 'Add', 'Sqrt', 'Reciprocal', 'Shape', 'Relu', 'MaxPool', 'Resize', 'Constant', 'Identity']);
    for (const e of exported) {
      const g = e.model.graph;
      assert.ok(g?.initializer && g.node);
      const params = paramsOf(e.spec);
      assert.deepEqual(g.initializer.map((t) => t.name).sort(), params.map((p) => p.name).sort(), e.name);
      assert.equal(g.initializer.reduce((s, t) => s + (t.rawData?.length ?? 0), 0), e.weightBytes);
      for (const n of g.node) {
        assert.equal(n.domain ?? '', '', `${e.name}: ${n.opType} in domain ${n.domain}`);
        assert.ok(allowed.has(n.opType ?? ''), `${e.name}: unexpected op ${n.opType}`);
      }
      assert.deepEqual(e.model.opsetImport?.map((o) => [o.domain, o.version]), [['', 17]]);
      assert.deepEqual(decodeModel(e.bytes).metadataProps?.map((p) => [p.key, p.value]), [['net', e.name]]);
      // Each shared conv node reads its owner's weight.
      for (const n of e.spec.nodes) {
        if (n.op !== 'conv2d' || !n.shareWith) continue;
        const readers = g.node.filter((m) => m.opType === 'Conv' && m.input?.[1] === `${n.shareWith}.weight`);
        assert.ok(readers.length >= 2, `${e.name}: ${n.name} does not reuse ${n.shareWith}.weight`);
      }
    }
    const backbone = exported.find((e) => e.spec.nodes.some((n) => n.op === 'conv2d' && n.name === 'rpn.conv.l3'));
    assert.equal(backbone?.model.graph?.node?.filter((n) => n.input?.[1] === 'rpn.conv.l0.weight').length, 4);
  });

  it('file size stays within 5 % of the float32 weight bytes; reports export time', () => {
    for (const e of exported) {
      const ratio = e.bytes.length / e.weightBytes;
      console.log(`${e.name}: export ${e.exportMs.toFixed(0)} ms, ${e.bytes.length} bytes for ${e.weightBytes} weight bytes (x${ratio.toFixed(4)}), ${e.model.graph?.node?.length} nodes`);
      if (e.sizeTarget) assert.ok(ratio <= 1.05, `${e.name}: file is ${ratio.toFixed(3)} x the weight bytes`);
    }
  });

  it('passes the ONNX checker (Debian python3-onnx, full_check)', (t) => {
    const python = '/usr/bin/python3';
    if (!requireTool(t, pythonOnnxAvailable(), 'python3-onnx (apt-get install -y python3-onnx)')) return;
    const script = 'import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint("ok", len(sys.argv) - 1)';
    const paths = exported.map((e, i) => {
      const path = join(workDir, `net-${i}.onnx`);
      writeFileSync(path, e.bytes);
      return path;
    });
    const result = spawnSync(python, ['-c', script, ...paths], { encoding: 'utf8' });
    assert.equal(result.status, 0, `onnx.checker failed:\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^ok ${paths.length}`));
  });
});
