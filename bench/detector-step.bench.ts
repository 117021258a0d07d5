/**
 * One training step (loss and gradients, no update) of the rotated Faster R-CNN at 512², on one
 * synthetic HAADF image with ~30 rods: the unit the nanorod recipe's time is made of (each of the two
 * data-parallel workers does one per step).
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../core/random.ts';
import { generateHaadfNanorods } from '../core/synth/haadf-nanorods.ts';
import { defaultRotatedRcnnConfig } from '../model/detection/config.ts';
import { RotatedRcnn } from '../training/detection/rotated-rcnn.ts';

export function benchDetectorStep(steps = 3): Record<string, number | string> {
  const im = generateHaadfNanorods(seededRandom(1), { size: 512 });
  const data = Float32Array.from(im.data, (v) => v / 65535);
  const rboxes = Float32Array.from(im.objects.flatMap((o) => [...o.rbox!]));
  const classes = new Int32Array(im.objects.length);
  const model = RotatedRcnn.create({ ...defaultRotatedRcnnConfig(['nanorod']), anchorRatios: [0.25, 0.5, 1, 2, 4] }, 0);
  const vars = [...model.params.values()] as tf.Variable[];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      const parts = model.losses(tf.tensor4d(data, [1, 512, 512, 1]), { rboxes, classes }, 1);
      return tf.addN(Object.values(parts)) as tf.Scalar;
    }, vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const t = performance.now();
  for (let i = 0; i < steps; i++) step();
  return { bench: 'rotated Faster R-CNN training step (512², one image, ~30 rods)', backend: tf.getBackend(), ms_per_step: Math.round((performance.now() - t) / steps) };
}
