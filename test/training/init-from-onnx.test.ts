import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import { buildSpecModel } from '../../export/net/spec-model.ts';
import { float16BitsToNumber, float32ToFloat16Bits, readFloat16Tensor, storeWeightsAsFloat16 } from '../../onnx/fp16.ts';
import { convWeightToOihw } from '../../export/net/index.ts';
import { encodeModel, makeTensor, onnx, type ModelProto } from '../../onnx/index.ts';
import { type RotatedRcnnConfig, defaultRotatedRcnnConfig } from '../../model/detection/config.ts';
import { backboneSpec } from '../../model/detection/specs.ts';
import { mapBackboneFromOnnx, oihwToHwio } from '../../training/init-from-onnx.ts';
import { paramsOf } from '../../model/net/spec.ts';

/**
 * Backbone initialisation from ONNX files the test builds: emseg's own backbone exported with random
 * weights (names match), the same file with torchvision-like names and an RGB stem (shapes match,
 * in order), and a file that fits nothing.
 */
const config: RotatedRcnnConfig = { ...defaultRotatedRcnnConfig(['rod']), backbone: { widths: [8, 16, 16, 32], blocks: [2, 2, 2, 2], norm: 'gn' } };
const spec = backboneSpec(config);
const params = paramsOf(spec);
const backbone = params.filter((p) => p.name.startsWith('backbone.'));
const rand = seededRandom(5);
const weights = new Map(params.map((p) => [p.name, Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5)]));

function exported(): ModelProto {
  return buildSpecModel(spec, weights);
}

describe('backbone initialisation from ONNX', () => {
  it('OIHW -> HWIO is the inverse of the exporter\'s HWIO -> OIHW', () => {
    const w = weights.get('backbone.res3.0.conv1.weight') as Float32Array;
    const [k, , ci, co] = backbone.find((p) => p.name === 'backbone.res3.0.conv1.weight')!.shape;
    assert.deepEqual(oihwToHwio(convWeightToOihw(w, k, ci, co), co, ci, k), w);
  });

  it('by name: every backbone tensor of an emseg export, values exact', () => {
    const init = mapBackboneFromOnnx(encodeModel(exported()), 'own.onnx', backbone);
    assert.deepEqual(init.unmatched, []);
    assert.equal(init.byName.length, backbone.length);
    for (const p of backbone) assert.deepEqual(init.values.get(p.name), weights.get(p.name), p.name);
  });

  it('float16 weights (emseg-export --fp16, as the zoo ships): every backbone tensor by name, widened exactly', () => {
    const model = exported();
    const { initializers, nodes } = storeWeightsAsFloat16(model.graph?.initializer ?? [], model.graph?.node ?? []);
    assert.ok(initializers.every((t) => (t.name ?? '').endsWith('.fp16')), 'the file holds only renamed float16 weights');
    const half: ModelProto = { ...model, graph: { ...model.graph, initializer: initializers, node: nodes } };
    const init = mapBackboneFromOnnx(encodeModel(half), 'own-fp16.onnx', backbone);
    assert.deepEqual(init.unmatched, []);
    assert.equal(init.byName.length, backbone.length);
    assert.equal(init.byShape.length, 0);
    for (const p of backbone) {
      const rounded = (weights.get(p.name) as Float32Array).map((v) => float16BitsToNumber(float32ToFloat16Bits(v)));
      assert.deepEqual(init.values.get(p.name), rounded, p.name);
    }
  });

  it('the shipped nanorod zoo model (float16) initialises a backbone of its widths by name', async () => {
    const zooConfig: RotatedRcnnConfig = defaultRotatedRcnnConfig(['nanorod']);
    const zooBackbone = paramsOf(backboneSpec(zooConfig)).filter((p) => p.name.startsWith('backbone.'));
    const bytes = new Uint8Array(await readFile(new URL('../../model-zoo/nanorod/nanorod.onnx', import.meta.url)));
    const init = mapBackboneFromOnnx(bytes, 'nanorod.onnx', zooBackbone);
    assert.deepEqual(init.unmatched, []);
    assert.equal(init.byName.length, zooBackbone.length);
    const stem = init.values.get('backbone.stem.conv.weight') as Float32Array;
    assert.ok(stem.every(Number.isFinite) && stem.some((v) => v !== 0), 'trained stem weights');
  });

  it('by shape in order, with an RGB stem summed to grey and foreign names', () => {
    const model = exported();
    const inits = model.graph?.initializer ?? [];
    let k = 0;
    const renamed = inits.flatMap((t) => {
      const dims = (t.dims ?? []).map(Number);
      if (dims.length !== 4) return []; // batch-norm-like vectors are not taken by shape
      const name = `onnx::Conv_${k++}`;
      if (t.name === 'backbone.stem.conv.weight') {
        // An RGB stem: each colour channel a third of the grey weights.
        const grey = mapBackboneFromOnnx(encodeModel(model), 'x', backbone).values.get('backbone.stem.conv.weight') as Float32Array;
        const [co, , kh, kw] = dims;
        const oihw = convWeightToOihw(grey, kh, 1, co);
        const rgb = new Float32Array(co * 3 * kh * kw);
        for (let o = 0; o < co; o++) for (let c = 0; c < 3; c++) for (let j = 0; j < kh * kw; j++) rgb[(o * 3 + c) * kh * kw + j] = oihw[o * kh * kw + j] / 3;
        return [makeTensor(name, 'float32', [co, 3, kh, kw], rgb)];
      }
      return [{ ...t, name }];
    });
    const foreign: ModelProto = { ...model, graph: { ...model.graph, initializer: renamed, node: [] } };
    const init = mapBackboneFromOnnx(encodeModel(foreign), 'torchvision-like.onnx', backbone);
    const convs = backbone.filter((p) => p.shape.length === 4);
    assert.equal(init.byShape.length, convs.length, 'every convolution by shape');
    assert.equal(init.byName.length, 0);
    for (const p of convs) {
      const got = init.values.get(p.name) as Float32Array;
      const want = weights.get(p.name) as Float32Array;
      const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      assert.ok(err < 1e-6, `${p.name}: max error ${err}`);
    }
    // Group-norm parameters are not taken from unnamed vectors.
    assert.ok(init.unmatched.every((n) => n.endsWith('.gamma') || n.endsWith('.beta')));
  });

  it('a file that fits nothing is a clear error naming it', () => {
    const model = exported();
    const other: ModelProto = { ...model, graph: { ...model.graph, node: [], initializer: [makeTensor('fc.weight', 'float32', [10, 7], new Float32Array(70))] } };
    assert.throws(() => mapBackboneFromOnnx(encodeModel(other), 'imagenet.onnx', backbone), (e: unknown) => e instanceof EmsegError && /imagenet\.onnx: no tensor matches the backbone/.test(e.message));
    assert.throws(() => mapBackboneFromOnnx(new TextEncoder().encode('not onnx at all'), 'junk.onnx', backbone), (e: unknown) => e instanceof EmsegError && /junk\.onnx/.test(e.message));
  });

  it('float16 dims are checked against the stored values before allocating (fuzzing: dims of 2^32 values allocated 16 GB first)', () => {
    const t = { name: 'w.fp16', dataType: onnx.TensorProto.DataType.FLOAT16, dims: [2 ** 31, 2 ** 31, 4], rawData: new Uint8Array(2) };
    assert.throws(() => readFloat16Tensor(t), /raw_data has 2 bytes for \d+ float16 values/);
    assert.throws(() => readFloat16Tensor({ ...t, dims: [-2, 3] }), /dims \[-2, 3\] are not non-negative integers/);
    // In a file, such a tensor is not a backbone weight: the others still initialise the backbone.
    const model = exported();
    const { initializers, nodes } = storeWeightsAsFloat16(model.graph?.initializer ?? [], model.graph?.node ?? []);
    initializers[0] = { ...initializers[0], dims: [2 ** 31, 2] };
    const init = mapBackboneFromOnnx(encodeModel({ ...model, graph: { ...model.graph, initializer: initializers, node: nodes } }), 'huge-dims.onnx', backbone);
    assert.equal(init.unmatched.length, 1);
  });
});
