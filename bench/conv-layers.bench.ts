/**
 * Per-layer convolution timings on the selected backend (ms): forward, filter gradient and input
 * gradient through the registered kernels, for the layer shapes that dominate a detector step.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Median of `reps` calls (single calls vary up to 2x here: heap growth, operator creation). The
 * output is not read back: `dataSync` copies it into fresh JS memory, and on this VM faulting in
 * fresh pages cost more than the convolution (the stem's 8 MB output: 4 ms of work, 30 ms median).
 */
function msPerCall(f: () => tf.Tensor, reps = 9): number {
  for (let i = 0; i < 2; i++) f().dispose();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const r = f(); // wasm and cpu kernels run synchronously: the call is the work
    r.dispose();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[reps >> 1];
}

const LAYERS: { name: string; x: [number, number, number, number]; k: number; co: number; stride: number }[] = [
  { name: '3x3, 128², 64→64 (FPN P2 / RPN)', x: [1, 128, 128, 64], k: 3, co: 64, stride: 1 },
  { name: '3x3, 128², 32→32 (stage 1)', x: [1, 128, 128, 32], k: 3, co: 32, stride: 1 },
  { name: '3x3, 16², 256→256 (stage 4)', x: [1, 16, 16, 256], k: 3, co: 256, stride: 1 },
  { name: '3x3 s2, 64²→32², 64→128', x: [1, 64, 64, 64], k: 3, co: 128, stride: 2 },
  { name: '1x1 s2, 128²→64², 32→64', x: [1, 128, 128, 32], k: 1, co: 64, stride: 2 },
  { name: '7x7 s2, 512²→256², 1→32 (stem)', x: [1, 512, 512, 1], k: 7, co: 32, stride: 2 },
  { name: '3x3, 64 RoIs x 14², 64→64 (mask head)', x: [64, 14, 14, 64], k: 3, co: 64, stride: 1 },
];

export function benchConvLayers(): Record<string, number | string>[] {
  return LAYERS.map((l) =>
    tf.tidy(() => {
      const x = tf.randomNormal(l.x, 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([l.k, l.k, l.x[3], l.co], 0, 1, 'float32', 2) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.conv2d(x, w, l.stride, 'same').shape, 0, 1, 'float32', 3);
      const attrs = { strides: l.stride, pad: 'same', dataFormat: 'NHWC' };
      return {
        bench: 'conv layer (ms)',
        layer: l.name,
        forward: +msPerCall(() => tf.conv2d(x, w, l.stride, 'same')).toFixed(1),
        filter_grad: +msPerCall(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor).toFixed(1),
        input_grad: +msPerCall(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: l.x }) as tf.Tensor).toFixed(1),
      };
    }),
  );
}
