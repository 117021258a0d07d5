import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import { buildSpecModel } from '../../export/net/index.ts';
import { encodeModel } from '../../onnx/index.ts';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { SpecBuilder } from '../../model/net/builders.ts';
import { initParams, runNet } from '../../training/net/run-tfjs.ts';

/** The mask head's 2x transposed convolution: tfjs forward and the emitted ONNX ConvTranspose agree. */
describe('deconv2x export', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('equals the tfjs forward within 1e-5', async () => {
    const b = new SpecBuilder([{ name: 'x', channels: 3 }]);
    const y = b.deconv2x('mask.deconv', b.relu(b.conv('mask.conv', 'x', 4, 3, 1, { bias: true })), 5);
    const spec = b.build([y]);
    const params = initParams(spec, 3);
    // Non-zero biases, so a wrong bias mapping would show.
    for (const [k, v] of params) if (k.endsWith('.bias')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 9));
    const input = tf.randomNormal([2, 6, 7, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const ref = runNet(spec, params, { x: input })[y];
    assert.deepEqual(ref.shape, [2, 12, 14, 5]);
    const weights = new Map([...params].map(([k, v]) => [k, v.dataSync() as Float32Array]));
    const session = await ortNode.InferenceSession.create(encodeModel(buildSpecModel(spec, weights)));
    const nchw = tf.transpose(input, [0, 3, 1, 2]);
    const out = await session.run({ x: new ortNode.Tensor('float32', nchw.dataSync() as Float32Array, nchw.shape) });
    const got = tf.transpose(tf.tensor(out[y].data as Float32Array, out[y].dims as number[]), [0, 2, 3, 1]).dataSync();
    const want = ref.dataSync();
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
    assert.ok(max < 1e-5, `max |error| ${max}`);
  });
});
