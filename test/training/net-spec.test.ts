import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { RESNET18_LIGHT, SpecBuilder, fpn, resnet, rpnHead } from '../../model/net/builders.ts';
import { initParams, runNet } from '../../training/net/run-tfjs.ts';
import { paramsOf, validateSpec } from '../../model/net/spec.ts';

function detectorSpec() {
  const b = new SpecBuilder([{ name: 'image', channels: 1 }]);
  const c = resnet(b, 'image', { ...RESNET18_LIGHT, widths: [8, 16, 16, 32] });
  const p = fpn(b, c, 16);
  const heads = rpnHead(b, p, 3, 5);
  return b.build([...p, ...heads.flat()]);
}

describe('network description', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('validates, names parameters once (shared RPN head) and rejects broken specs', () => {
    const spec = detectorSpec();
    validateSpec(spec);
    const names = paramsOf(spec).map((p) => p.name);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('rpn.conv.l0.weight') && !names.includes('rpn.conv.l1.weight'), 'levels share the RPN parameters');
    assert.ok(names.includes('backbone.res3.0.shortcut.weight'));
    const broken = { ...spec, nodes: spec.nodes.slice(1) };
    assert.throws(() => validateSpec(broken), /reads "backbone.stem.conv" before it is defined|reads/);
  });

  it('runs forward with pyramid strides 4..32 and the RPN outputs per level', () => {
    const spec = detectorSpec();
    const params = initParams(spec, 1);
    const out = tf.tidy(() => {
      const o = runNet(spec, params, { image: tf.randomNormal([1, 128, 96, 1], 0, 1, 'float32', 3) as tf.Tensor4D });
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.shape]));
    });
    assert.deepEqual(out['fpn.output2'], [1, 32, 24, 16]);
    assert.deepEqual(out['fpn.output5'], [1, 4, 3, 16]);
    assert.deepEqual(out['rpn.objectness.l0'], [1, 32, 24, 3]);
    assert.deepEqual(out['rpn.deltas.l3'], [1, 4, 3, 15]);
  });

  it('initialises identically for a seed and gives every parameter a gradient', () => {
    const spec = detectorSpec();
    const a = initParams(spec, 7), b = initParams(spec, 7);
    for (const [k, v] of a) assert.deepEqual(v.dataSync(), b.get(k)!.dataSync(), k);
    const x = tf.randomNormal([1, 64, 64, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const { grads } = tf.variableGrads(() => tf.tidy(() => {
      const o = runNet(spec, a, { image: x });
      return tf.addN(Object.values(o).map((t) => t.square().mean())) as tf.Scalar;
    }), [...a.values()]);
    const byVariable = new Map([...a].map(([k, v]) => [v.name, k]));
    for (const [variable, g] of Object.entries(grads)) {
      const name = byVariable.get(variable);
      const norm = g.abs().sum().dataSync()[0];
      assert.ok(Number.isFinite(norm) && norm > 0, `${name} has no gradient`);
    }
  });
});
