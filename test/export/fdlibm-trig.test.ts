import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { OpBuilder, encodeModel, makeGraph, makeModel, tensorValueInfo } from '../../onnx/index.ts';
import { emitSinCos } from '../../export/ops/fdlibm-trig.ts';
import { seededRandom } from '../helpers/fixtures.ts';

/** A model computing emitSinCos(x). */
function trigModel(): Uint8Array {
  const b = new OpBuilder('t_');
  const { sin, cos } = emitSinCos(b, 'x');
  b.opTo('sin', 'Identity', [sin]);
  b.opTo('cos', 'Identity', [cos]);
  const graph = makeGraph({
    name: 'trig',
    nodes: b.nodes,
    inputs: [tensorValueInfo('x', 'float64', ['n'])],
    outputs: ['sin', 'cos'].map((name) => tensorValueInfo(name, 'float64', ['n'])),
  });
  return encodeModel(makeModel({ graph }));
}

/** Radians the way core computes them (angle * pi / 180) for the angles rotated boxes use. */
function angles(): Float64Array {
  const rand = seededRandom(7);
  const deg = Math.PI / 180;
  const special = [0, 30, 45, 60, 90, 180, 270, 360, 720, -90, -180, -360, 1e-9, 89.999999, 0.5, 1e6, -47e6];
  const values = [...special.map((a) => a * deg)];
  for (let i = 0; i < 20000; i++) {
    const kind = i % 4;
    const a = kind === 0 ? rand() * 720 - 360
      : kind === 1 ? Math.round(rand() * 1440 - 720)
      : kind === 2 ? Math.fround(rand() * 2000 - 1000)
      : (rand() - 0.5) * 2e6;
    values.push(a * deg);
  }
  return Float64Array.from(values);
}

describe('fdlibm sin/cos in ONNX ops', () => {
  const model = trigModel();
  const x = angles();

  for (const [name, ort] of [['onnxruntime-node', ortNode], ['onnxruntime-web wasm', ortWeb]] as const) {
    it(`equals Math.sin and Math.cos bit for bit (${name})`, async () => {
      if (ort === ortWeb) ortWeb.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(model);
      const out = await session.run({ x: new ort.Tensor('float64', x, [x.length]) });
      const sin = out.sin.data as Float64Array;
      const cos = out.cos.data as Float64Array;
      for (let i = 0; i < x.length; i++) {
        // === (not Object.is): ORT's Where may turn -0 into +0, which no IoU computation can see.
        assert.ok(sin[i] === Math.sin(x[i]), `sin(${x[i]}): ${sin[i]} vs ${Math.sin(x[i])}`);
        assert.ok(cos[i] === Math.cos(x[i]), `cos(${x[i]}): ${cos[i]} vs ${Math.cos(x[i])}`);
      }
      await session.release();
    });
  }
});
