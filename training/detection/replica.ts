import * as tf from '@tensorflow/tfjs';
import { toCocoRle, type CocoRle } from '../../core/mask/coco-segmentation.ts';
import { type BackendChoice, selectBackend } from '../backend/select-backend.ts';
import { augment, padTo, type AugmentOptions } from '../data/augment.ts';
import { type RboxDataset, loadNormalizedImage, loadRboxDataset } from '../data/dataset.ts';
import { type InstanceDataset, augmentInstances, loadInstanceDataset } from '../data/instances.ts';
import type { Replica } from '../parallel/replica.ts';
import type { RotatedRcnnConfig } from '../../model/detection/config.ts';
import type { MaskRcnnConfig } from '../../model/detection/mask-config.ts';
import { MaskRcnn } from './mask-rcnn.ts';
import { RotatedRcnn } from './rotated-rcnn.ts';

export type DetectorConfig = RotatedRcnnConfig | MaskRcnnConfig;

/** A detection in task-independent form (what validation and the SDK-shaped results need). */
export interface GenericDetection {
  classIndex: number;
  score: number;
  box?: [number, number, number, number];
  rbox?: [number, number, number, number, number];
  mask?: CocoRle;
}

export interface DetectorReplicaInit {
  config: DetectorConfig;
  train: string;
  seed: number;
  backend: BackendChoice;
  /** onnxruntime threads for the convolutions (the cores divided among the workers). */
  threads?: number;
  momentum: number;
  weightDecay: number;
  clipNorm: number;
  augment: AugmentOptions;
}

/** A training shard: which image, the augmentation seed, and the learning rate of this step. */
export interface DetectorShard {
  sample: number;
  seed: number;
  lr: number;
}

/**
 * One replica of detector training (rotated Faster R-CNN or Mask R-CNN, by `config.task`): loads (and
 * caches) the training images, computes the loss gradient of one augmented image, and applies SGD
 * with momentum and weight decay. Used in process for one worker and inside each worker thread for
 * data parallelism.
 */
export class DetectorReplica implements Replica {
  readonly paramCount: number;
  private readonly vars: tf.Variable[];
  private readonly sizes: number[];
  private readonly momentum: tf.Variable[];
  private readonly images = new Map<number, Float32Array>();
  private readonly flat: Float32Array;
  private lr = 0;
  lastParts: Record<string, number> = {};

  private constructor(
    readonly model: RotatedRcnn | MaskRcnn,
    readonly data: RboxDataset | InstanceDataset,
    private readonly init: DetectorReplicaInit,
  ) {
    this.vars = [...model.params.values()];
    this.sizes = this.vars.map((v) => v.size);
    this.paramCount = this.sizes.reduce((a, b) => a + b, 0);
    this.momentum = this.vars.map((v) => tf.variable(tf.zerosLike(v), false));
    this.flat = new Float32Array(this.paramCount);
  }

  static async create(init: DetectorReplicaInit): Promise<DetectorReplica> {
    await selectBackend(init.backend, { threads: init.threads });
    const c = init.config;
    if (c.task === 'rotated-detection') return new DetectorReplica(RotatedRcnn.create(c, init.seed), await loadRboxDataset(init.train, c.classes), init);
    return new DetectorReplica(MaskRcnn.create(c, init.seed), await loadInstanceDataset(init.train, c.classes), init);
  }

  private async image(i: number): Promise<Float32Array> {
    let img = this.images.get(i);
    if (!img) {
      img = await loadNormalizedImage(this.data.samples[i]);
      this.images.set(i, img);
    }
    return img;
  }

  /** Images must be loaded before `gradients` (which is synchronous). */
  async preload(indices: number[]): Promise<void> {
    for (const i of indices) await this.image(i);
  }

  /** Augmented, padded input and the task's targets for one shard. */
  private prepare(sample: number, seed: number) {
    const img = this.images.get(sample);
    if (!img) throw new Error(`image ${sample} not preloaded`);
    if (this.model instanceof RotatedRcnn) {
      const s = (this.data as RboxDataset).samples[sample];
      const a = augment(img, s.width, s.height, s.rboxes, seed, this.init.augment);
      const p = padTo(a.data, a.width, a.height);
      const model = this.model;
      const targets = { rboxes: a.rboxes, classes: Int32Array.from(a.kept, (i) => s.classes[i]) };
      return { p, losses: () => model.losses(tf.tensor4d(p.data, [1, p.height, p.width, 1]), targets, seed) as Record<string, tf.Scalar> };
    }
    const a = augmentInstances(img, (this.data as InstanceDataset).samples[sample], seed, this.init.augment);
    const p = padTo(a.data, a.width, a.height);
    const targets = { boxes: a.boxes, classes: a.classes, masks: a.masks };
    const model = this.model;
    return { p, losses: () => model.losses(tf.tensor4d(p.data, [1, p.height, p.width, 1]), targets, seed) as Record<string, tf.Scalar> };
  }

  gradients(shard: unknown): { loss: number; grads: Float32Array } {
    const { sample, seed, lr } = shard as DetectorShard;
    this.lr = lr;
    const { losses } = this.prepare(sample, seed);
    const { value, grads } = tf.variableGrads(() => {
      const parts = losses();
      // Read the terms here: variableGrads frees every intermediate when it returns.
      this.lastParts = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
      return tf.addN(Object.values(parts)) as tf.Scalar;
    }, this.vars);
    const loss = value.dataSync()[0];
    let off = 0;
    for (const v of this.vars) {
      // A network that took no part in this step's loss has no gradient (e.g. the rotated second
      // stage on an augmented image whose objects all left the canvas): zero, not a crash.
      const g = grads[v.name];
      if (g) this.flat.set(g.dataSync() as Float32Array, off);
      else this.flat.fill(0, off, off + v.size);
      off += v.size;
    }
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: this.flat };
  }

  /** SGD with momentum and L2 weight decay, after clipping the global gradient norm. */
  apply(avg: Float32Array): void {
    let sq = 0;
    for (let i = 0; i < avg.length; i++) sq += avg[i] * avg[i];
    const norm = Math.sqrt(sq);
    const clip = Number.isFinite(norm) && norm > this.init.clipNorm ? this.init.clipNorm / norm : 1;
    if (!Number.isFinite(norm)) return; // skip a step whose gradient overflowed
    tf.tidy(() => {
      let off = 0;
      this.vars.forEach((v, i) => {
        const g = tf.add(tf.mul(tf.tensor(avg.subarray(off, off + this.sizes[i]), v.shape), clip), tf.mul(v, this.init.weightDecay));
        const m = tf.add(tf.mul(this.momentum[i], this.init.momentum), g);
        this.momentum[i].assign(m);
        v.assign(tf.sub(v, tf.mul(m, this.lr)));
        off += this.sizes[i];
      });
    });
  }

  /** Loss terms of the last `gradients` call (for DataParallel's by-name calls). */
  lastPartsOf(): Record<string, number> {
    return this.lastParts;
  }

  parameters(): Float32Array {
    return flatten(this.vars, this.paramCount);
  }

  /** Parameters and momentum, for checkpoints. */
  state(): { params: Float32Array; momentum: Float32Array } {
    return { params: this.parameters(), momentum: flatten(this.momentum, this.paramCount) };
  }

  load(state: { params: Float32Array; momentum: Float32Array }): void {
    unflatten(this.vars, state.params);
    unflatten(this.momentum, state.momentum);
  }

  predict(data: Float32Array, width: number, height: number): GenericDetection[] {
    return predictGeneric(this.model, data, width, height);
  }
}

/** Variables' values concatenated in order (flat gradients, checkpoints). */
export function flatten(vars: tf.Variable[], n: number): Float32Array {
  const out = new Float32Array(n);
  let off = 0;
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  return out;
}

function unflatten(vars: tf.Variable[], values: Float32Array): void {
  let off = 0;
  for (const v of vars) {
    v.assign(tf.tensor(values.subarray(off, off + v.size), v.shape));
    off += v.size;
  }
  if (off !== values.length) throw new Error(`checkpoint holds ${values.length} values, the model ${off}`);
}

/** Detections of either model in task-independent form (masks as compressed COCO RLE). */
export function predictGeneric(model: RotatedRcnn | MaskRcnn, data: Float32Array, width: number, height: number): GenericDetection[] {
  const p = padTo(data, width, height);
  const x = tf.tensor4d(p.data, [1, p.height, p.width, 1]);
  try {
    if (model instanceof RotatedRcnn) return model.predict(x, { width, height }).map((d) => ({ classIndex: d.classIndex, score: d.score, rbox: [...d.rbox] as GenericDetection['rbox'] }));
    return model.predict(x, { width, height }).map((d) => ({ classIndex: d.classIndex, score: d.score, box: [...d.box] as GenericDetection['box'], mask: toCocoRle(d.mask) }));
  } finally {
    x.dispose();
  }
}

/** Entry for DataParallel workers. */
export async function createReplica(init: unknown): Promise<Replica> {
  const r = await DetectorReplica.create(init as DetectorReplicaInit);
  await r.preload(r.data.samples.map((_, i) => i));
  return r;
}
