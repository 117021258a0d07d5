import * as tf from '@tensorflow/tfjs';
import { type BackendChoice, selectBackend } from '../training/backend/select-backend.ts';
import type { Replica } from '../training/parallel/replica.ts';
import { flatten } from '../training/detection/replica.ts';
import { resnet18Half } from './train-step.bench.ts';

/** The benchmark backbone as a data-parallel replica: shard = a seed for a random 512 x 512 image. */
export async function createReplica(init: unknown): Promise<Replica> {
  const { backend, lr, threads } = init as { backend: BackendChoice; lr: number; threads?: number };
  await selectBackend(backend, { threads });
  const params = new Map<string, tf.Variable>();
  tf.tidy(() => resnet18Half(params, tf.zeros([1, 512, 512, 1]) as tf.Tensor4D)); // creates variables (seeded)
  const vars = [...params.values()];
  const sizes = vars.map((v) => v.size);
  const paramCount = sizes.reduce((a, b) => a + b, 0);
  const flat = new Float32Array(paramCount);
  return {
    paramCount,
    gradients(shard) {
      const x = tf.randomNormal([1, 512, 512, 1], 0, 1, 'float32', shard as number) as tf.Tensor4D;
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => resnet18Half(params, x).square().mean()) as tf.Scalar, vars);
      let off = 0;
      for (const v of vars) {
        flat.set(grads[v.name].dataSync() as Float32Array, off);
        off += v.size;
      }
      const loss = value.dataSync()[0];
      tf.dispose([x, value, ...Object.values(grads)]);
      return { loss, grads: flat };
    },
    parameters() {
      return flatten(vars, paramCount);
    },
    apply(avg) {
      tf.tidy(() => {
        let off = 0;
        vars.forEach((v, i) => {
          v.assign(tf.sub(v, tf.mul(tf.tensor(avg.subarray(off, off + sizes[i]), v.shape), lr)));
          off += sizes[i];
        });
      });
    },
  };
}
