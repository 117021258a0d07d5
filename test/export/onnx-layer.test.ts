import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ortNode from 'onnxruntime-node';
import {
  EMSEG_DOMAIN,
  OpBuilder,
  attr,
  decodeModel,
  encodeModel,
  makeFunction,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  readTensor,
  tensorValueInfo,
  type TensorElementType,
} from '../../onnx/index.ts';

describe('export/onnx layer', () => {
  it('writes tensors as raw_data and reads them back for every element type', () => {
    const cases: [TensorElementType, number[]][] = [
      ['float32', [1.5, -2, 3.25]],
      ['float64', [Math.PI, -0.1, 1e-300]],
      ['int32', [-7, 0, 2 ** 31 - 1]],
      ['int64', [-(2 ** 40), 0, 2 ** 52]],
      ['uint8', [0, 255, 17]],
      ['bool', [1, 0, 1]],
    ];
    for (const [type, values] of cases) {
      const t = makeTensor('t', type, [3], values);
      assert.deepEqual(readTensor(t), { type, dims: [3], values });
    }
    assert.throws(() => makeTensor('bad', 'float32', [2, 2], [1, 2, 3]), /dims \[2, 2\] hold 4 values, got 3/);
  });

  it('builds a model with a model-local function that onnxruntime runs', async () => {
    // com.emseg::AddTwice(x, y) = x + y + y, called from the main graph.
    const body = new OpBuilder('f_');
    body.opTo('z', 'Add', [body.add('x', 'y'), 'y']);
    const fn = makeFunction({ domain: EMSEG_DOMAIN, name: 'AddTwice', inputs: ['x', 'y'], outputs: ['z'], nodes: body.nodes });
    const graph = makeGraph({
      name: 'g',
      nodes: [makeNode('AddTwice', ['a', 'b'], ['c'], { domain: EMSEG_DOMAIN }), makeNode('Cast', ['c'], ['d'], { attributes: [attr.int('to', 11)] })],
      inputs: [tensorValueInfo('a', 'float32', [2]), tensorValueInfo('b', 'float32', [2])],
      outputs: [tensorValueInfo('d', 'float64', [2])],
    });
    const bytes = encodeModel(makeModel({ graph, functions: [fn] }));
    const session = await ortNode.InferenceSession.create(bytes);
    const out = await session.run({
      a: new ortNode.Tensor('float32', Float32Array.from([1, 2]), [2]),
      b: new ortNode.Tensor('float32', Float32Array.from([10, 20]), [2]),
    });
    assert.deepEqual(Array.from(out.d.data as Float64Array), [21, 42]);
    await session.release();
    assert.deepEqual(encodeModel(decodeModel(bytes)), bytes);
  });

  it('reuses one Constant node per scalar value and keeps -0 apart from 0', () => {
    const b = new OpBuilder('c_');
    const one = b.scalar('float64', 1);
    assert.equal(b.scalar('float64', 1), one);
    assert.notEqual(b.scalar('int64', 1), one);
    assert.notEqual(b.scalar('float64', -0), b.scalar('float64', 0));
  });

  it('rejects a decoded message without a graph', () => {
    const noGraph = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
    assert.throws(() => decodeModel(noGraph, 'empty.onnx'), /empty\.onnx is not a valid ONNX model: the model has no graph/);
  });
});
