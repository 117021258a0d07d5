import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EmsegError } from '../core/errors.ts';
import { parseCocoResults } from '../core/coco/validate.ts';
import { evaluateCoco } from '../core/eval/coco-eval.ts';
import { defaultEvalParams } from '../core/eval/params.ts';
import { rotatedBoxEnclosing } from '../core/geometry/rotated-box.ts';
import { seededRandom } from '../core/random.ts';
import { readBackboneInit } from './init-from-onnx.ts';
import { type BackendChoice, threadsPerWorker } from './backend/select-backend.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointManifest } from '../model/checkpoint.ts';
import { DEFAULT_AUGMENT, type AugmentOptions } from './data/augment.ts';
import { loadNormalizedImage, loadRboxDataset, type RboxDataset } from './data/dataset.ts';
import { type InstanceDataset, loadInstanceDataset } from './data/instances.ts';
import { DEFAULT_ROTATED_STAGE, type RotatedRcnnConfig, type RotatedStageConfig, defaultRotatedRcnnConfig } from '../model/detection/config.ts';
import { type MaskRcnnConfig, defaultMaskRcnnConfig } from '../model/detection/mask-config.ts';
import { type DetectorConfig, DetectorReplica, type DetectorReplicaInit, type DetectorShard, type GenericDetection } from './detection/replica.ts';
import { modelSpecs } from '../model/detection/model-specs.ts';
import { paramsOf } from '../model/net/spec.ts';
import { DataParallel } from './parallel/data-parallel.ts';
import { writeFileAtomic } from '../sdk-node/write-file.ts';

export type Task = 'rotated-detection' | 'instance-segmentation';
/** Parts of a detector that --init-backbone can initialise (parameter name prefixes). */
export const INIT_LAYERS = ['backbone', 'fpn', 'rpn'] as const;
export type InitLayer = (typeof INIT_LAYERS)[number];
/**
 * What --init-backbone initialises unless told: the backbone, the FPN and the RPN. On the few-shot
 * real benchmarks, leave-one-dataset-out, these beat the backbone alone on every dataset measured
 * (docs/training.md: DeepSEM 0.301 vs 0.289 over 3 draws, Drosophila 0.619 vs 0.585, EMPS particles
 * 0.392 vs 0.329 over 2 draws); a file without emseg's FPN and RPN names initialises the backbone only.
 */
export const DEFAULT_INIT_LAYERS: readonly InitLayer[] = INIT_LAYERS;

/** Model settings a config file may override; a partial `rotatedStage` takes the defaults for the rest. */
export type ConfigOverrides = Partial<MaskRcnnConfig> | (Partial<Omit<RotatedRcnnConfig, 'rotatedStage'>> & { rotatedStage?: Partial<RotatedStageConfig> });

export interface TrainOptions {
  task: Task;
  train: string;
  val?: string;
  out: string;
  maxSteps: number;
  seed: number;
  backend: BackendChoice;
  workers: 1 | 2;
  lr: number;
  warmup: number;
  evalPeriod: number;
  logPeriod: number;
  augment: AugmentOptions;
  config?: ConfigOverrides;
  /** ONNX file whose tensors initialise the backbone (by name, else by shape; training/init-from-onnx.ts). */
  initBackbone?: string;
  /**
   * The backbone file is emseg's default (not the user's choice): a backbone it does not fit (another
   * `config.backbone`) is then skipped with a notice instead of failing the run.
   */
  initBackboneIsDefault?: boolean;
  /**
   * Which parts --init-backbone initialises: the backbone alone, or also the FPN and the RPN (the
   * class-agnostic parts of an emseg detector, matched by name and shape). Default: all three
   * (DEFAULT_INIT_LAYERS).
   */
  initLayers?: readonly InitLayer[];
  /**
   * Checkpoint folder whose tensors initialise every parameter of the same name and shape (fine-tuning,
   * or growing a model, e.g. adding the rotated second stage to a trained detector); the rest keep
   * their fresh initialisation. Applied only when the run starts (not on resume).
   */
  initFrom?: string;
  /**
   * Which checkpoint becomes `checkpoints/best` (the one to export): 'best' = highest validation AP,
   * 'last' = the final step, 'auto' (default) = by validation AP when the validation set has at least
   * MIN_SELECTION_IMAGES images, else the last (on 2 validation images AP is noise: the seed split's
   * 2-image validation picked a checkpoint scoring half the last one's test AP, docs/training.md).
   * The best-on-validation checkpoint is always kept as `checkpoints/best-val` too.
   */
  select?: 'auto' | 'best' | 'last';
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

/** Validation images from which `select: 'auto'` trusts validation AP to choose a checkpoint. */
export const MIN_SELECTION_IMAGES = 10;

export const DEFAULT_TRAIN: Omit<TrainOptions, 'train' | 'out' | 'task'> = {
  maxSteps: 2000, seed: 0, backend: 'auto', workers: 2, lr: 0.01, warmup: 100, evalPeriod: 200, logPeriod: 10, augment: DEFAULT_AUGMENT,
};

/** Learning rate at `step`: linear warm-up from 10 %, then x0.1 at 70 % and 90 % of the run. */
export function learningRate(o: Pick<TrainOptions, 'lr' | 'warmup' | 'maxSteps'>, step: number): number {
  const warm = step < o.warmup ? 0.1 + (0.9 * step) / o.warmup : 1;
  const decay = step >= 0.9 * o.maxSteps ? 0.01 : step >= 0.7 * o.maxSteps ? 0.1 : 1;
  return o.lr * warm * decay;
}

/** Which image each worker trains on at `step` (a seeded permutation per epoch) and its augmentation seed. */
export function shardsFor(step: number, workers: number, samples: number, seed: number, lr: number): DetectorShard[] {
  return Array.from({ length: workers }, (_, w) => {
    const k = step * workers + w;
    const epoch = Math.floor(k / samples);
    const perm = Array.from({ length: samples }, (_, i) => i);
    const rand = seededRandom(seed * 7919 + epoch);
    for (let i = samples - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    return { sample: perm[k % samples], seed: (seed * 1000003 + k * 97 + 13) >>> 0, lr };
  });
}

interface Engine {
  paramCount: number;
  step(shards: DetectorShard[]): Promise<{ loss: number; parts: Record<string, number> }>;
  state(): Promise<{ params: Float32Array; momentum: Float32Array }>;
  load(state: { params: Float32Array; momentum: Float32Array }): Promise<void>;
  predict(data: Float32Array, width: number, height: number): Promise<GenericDetection[]>;
  close(): Promise<void>;
}

async function startEngine(init: DetectorReplicaInit, workers: number): Promise<Engine> {
  if (workers === 1) {
    const r = await DetectorReplica.create(init);
    await r.preload(r.data.samples.map((_, i) => i));
    return {
      paramCount: r.paramCount,
      async step([shard]) {
        const { loss, grads } = r.gradients(shard);
        r.apply(grads);
        return { loss, parts: r.lastParts };
      },
      state: async () => r.state(),
      load: async (s) => r.load(s),
      predict: async (d, w, h) => r.predict(d, w, h) as never,
      close: async () => {},
    };
  }
  const dp = await DataParallel.start(new URL(`./detection/replica${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href, init, workers);
  return {
    paramCount: dp.paramCount,
    async step(shards) {
      const loss = await dp.step(shards);
      const parts = (await dp.call(0, 'lastPartsOf')) as Record<string, number>;
      return { loss, parts };
    },
    async state() {
      return (await dp.call(0, 'state')) as { params: Float32Array; momentum: Float32Array };
    },
    async load(s) {
      for (let w = 0; w < workers; w++) await dp.call(w, 'load', s);
    },
    predict: async (d, w, h) => (await dp.call(0, 'predict', d, w, h)) as never,
    close: () => dp.close(),
  };
}

/** COCO AP (rbox for rotated detection, segm for instance segmentation) on a validation set. */
async function validate(engine: Engine, val: RboxDataset | InstanceDataset, task: Task): Promise<Record<string, unknown>> {
  const results: Record<string, unknown>[] = [];
  for (const s of val.samples) {
    const img = await loadNormalizedImage(s);
    for (const d of await engine.predict(img, s.width, s.height)) {
      const category_id = val.categoryIds[d.classIndex];
      if (d.rbox) {
        const [x1, y1, x2, y2] = rotatedBoxEnclosing(d.rbox);
        results.push({ image_id: s.imageId, category_id, rbox: d.rbox, bbox: [x1, y1, x2 - x1, y2 - y1], score: d.score });
      } else {
        results.push({ image_id: s.imageId, category_id, segmentation: d.mask, score: d.score });
      }
    }
  }
  const iouType = task === 'rotated-detection' ? 'rbox' : 'segm';
  const params = defaultEvalParams();
  params.maxDets = [1, 10, 300];
  const r = evaluateCoco(val.coco, parseCocoResults(results, 'validation predictions', val.coco, iouType), iouType, params);
  const perClass = Object.fromEntries(val.classes.map((name, k) => [name, r.perCategoryAP.get(val.categoryIds[k]) ?? -1]));
  return { iouType, AP: r.stats.AP, AP50: r.stats.AP50, AP75: r.stats.AP75, perClassAP: perClass, detections: results.length };
}

/**
 * Train rotated Faster R-CNN or Mask R-CNN. Resumable: the latest checkpoint (every `evalPeriod` steps) holds the
 * step, parameters and momentum, and the data order and augmentation of step k depend only on
 * (seed, k), so a resumed run continues exactly as an uninterrupted one would.
 */
export async function trainDetector(options: TrainOptions): Promise<{ step: number; best: Record<string, unknown> | null }> {
  const o = options;
  const rotated = o.task === 'rotated-detection';
  const train = rotated ? await loadRboxDataset(o.train) : await loadInstanceDataset(o.train);
  const config = { ...(rotated ? defaultRotatedRcnnConfig(train.classes) : defaultMaskRcnnConfig(train.classes)), ...o.config, classes: train.classes } as DetectorConfig;
  // A partial rotatedStage in a config file takes the defaults for what it leaves out.
  if (config.task === 'rotated-detection' && config.rotatedStage) config.rotatedStage = { ...DEFAULT_ROTATED_STAGE, ...config.rotatedStage };
  const val = o.val ? (rotated ? await loadRboxDataset(o.val, train.classes) : await loadInstanceDataset(o.val, train.classes)) : null;
  await mkdir(join(o.out, 'checkpoints'), { recursive: true });
  const init: DetectorReplicaInit = { config, train: o.train, seed: o.seed, backend: o.backend, threads: threadsPerWorker(o.workers), momentum: 0.9, weightDecay: 1e-4, clipNorm: 10, augment: o.augment };
  const latest = join(o.out, 'checkpoints', 'latest');
  const resuming = existsSync(join(latest, 'manifest.json')) || existsSync(join(`${latest}.old`, 'manifest.json'));
  if (resuming) await checkSameRun(o, config);
  // A fresh run's log starts empty (a run killed before its first checkpoint starts again from step 0).
  else await rm(join(o.out, 'metrics.jsonl'), { force: true });
  await writeFileAtomic(join(o.out, 'config.json'), `${JSON.stringify({ ...o, progress: undefined, config }, null, 1)}\n`);
  const engine = await startEngine(init, o.workers);
  const log = o.progress ?? (() => {});
  const manifestBase = (step: number, metrics?: Record<string, unknown>): CheckpointManifest => ({
    format: 'emseg-checkpoint-1', task: o.task, step, paramCount: engine.paramCount, config,
    ...(metrics ? { metrics } : {}),
    params: [...paramsOfModel(config)],
  });
  let start = 0;
  let best: Record<string, unknown> | null = null;
  if (resuming) {
    const ck = await loadCheckpoint(latest);
    await engine.load({ params: ck.params, momentum: ck.momentum ?? new Float32Array(ck.params.length) });
    start = ck.manifest.step;
    await truncateMetricsLog(join(o.out, 'metrics.jsonl'), start);
    best = (ck.manifest.metrics?.best as Record<string, unknown>) ?? null;
    log(`resumed from ${latest} at step ${start}`);
  }
  if (o.initBackbone && start === 0) {
    const specs = [...paramsOfModel(config)];
    const layers = o.initLayers ?? DEFAULT_INIT_LAYERS;
    const backbone = specs.filter((p) => layers.some((l) => p.name.startsWith(`${l}.`)));
    const init = await readBackboneInit(o.initBackbone, backbone).catch((e: unknown) => {
      if (!o.initBackboneIsDefault) throw e;
      log(`the default backbone ${o.initBackbone} cannot initialise this backbone (${(e as Error).message}): training from scratch`);
      return null;
    });
    if (init) {
      await overwriteParams(engine, specs, (p) => init.values.get(p.name));
      log(`initialised ${init.values.size} of ${backbone.length} ${layers.join(' + ')} tensors from ${o.initBackbone}${o.initBackboneIsDefault ? ' (the default EM-pretrained backbone; --init-backbone none trains from scratch)' : ''} (${init.byName.length} by name, ${init.byShape.length} convolutions by shape)`);
    }
  }
  if (o.initFrom && start === 0) {
    const from = await loadCheckpoint(o.initFrom);
    const byName = new Map<string, Float32Array>();
    let off = 0;
    for (const p of from.manifest.params ?? []) {
      const size = p.shape.reduce((a, d) => a * d, 1);
      byName.set(`${p.name}:${p.shape.join('x')}`, from.params.subarray(off, off + size));
      off += size;
    }
    if (off !== from.params.length) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${o.initFrom}: the manifest lists ${off} parameters, params.bin holds ${from.params.length}`, { file: o.initFrom });
    const specs = [...paramsOfModel(config)];
    const copied = specs.filter((p) => byName.has(`${p.name}:${p.shape.join('x')}`)).length;
    if (copied === 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${o.initFrom}: no tensor of that checkpoint matches this model by name and shape`, { file: o.initFrom });
    await overwriteParams(engine, specs, (p) => byName.get(`${p.name}:${p.shape.join('x')}`));
    log(`initialised ${copied} of ${specs.length} tensors from ${o.initFrom} (by name and shape)`);
  }
  const selectByVal = val !== null && (o.select === 'best' || ((o.select ?? 'auto') === 'auto' && val.samples.length >= MIN_SELECTION_IMAGES));
  if (val && !selectByVal && start === 0) log(`checkpoint selection: the last step (${o.select === 'last' ? '--select last' : `validation has ${val.samples.length} image${val.samples.length === 1 ? '' : 's'}, fewer than ${MIN_SELECTION_IMAGES}`}); the best on validation is kept as checkpoints/best-val`);
  let selected: Record<string, unknown> | null = selectByVal ? best : null;
  const t0 = performance.now();
  try {
    for (let step = start; step < o.maxSteps; step++) {
      const lr = learningRate(o, step);
      const t = performance.now();
      const { loss, parts } = await engine.step(shardsFor(step, o.workers, train.samples.length, o.seed, lr));
      const ms = performance.now() - t;
      if (!Number.isFinite(loss)) log(`step ${step + 1}: non-finite loss ${loss}, update skipped`);
      if ((step + 1) % o.logPeriod === 0 || step === start) {
        await appendLine(join(o.out, 'metrics.jsonl'), JSON.stringify({ step: step + 1, lr, loss, ...parts, ms: Math.round(ms) }));
        const rate = (step + 1 - start) / ((performance.now() - t0) / 1000);
        const eta = (o.maxSteps - step - 1) / Math.max(rate, 1e-9);
        log(`step ${step + 1}/${o.maxSteps} | loss ${loss.toFixed(3)} (${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}) | ${rate.toFixed(2)} steps/s | ETA ${formatDuration(eta)}`);
      }
      const last = step + 1 === o.maxSteps;
      if ((step + 1) % o.evalPeriod === 0 || last) {
        const state = await engine.state();
        let metrics: Record<string, unknown> | undefined;
        if (val) {
          metrics = { step: step + 1, ...(await validate(engine, val, o.task)) };
          await appendLine(join(o.out, 'metrics.jsonl'), JSON.stringify({ step: step + 1, val: metrics }));
          log(`step ${step + 1}: validation ${metrics.iouType} AP ${(metrics.AP as number).toFixed(4)}, AP50 ${(metrics.AP50 as number).toFixed(4)}`);
          if (!best || (metrics.AP as number) > (best.AP as number)) {
            best = metrics;
            await saveCheckpoint(join(o.out, 'checkpoints', 'best-val'), manifestBase(step + 1, { best }), state.params);
            if (selectByVal) {
              selected = metrics;
              await saveCheckpoint(join(o.out, 'checkpoints', 'best'), manifestBase(step + 1, { best, selection: 'best validation AP' }), state.params);
            }
          }
        }
        if (last && !selectByVal) {
          selected = metrics ?? null;
          await saveCheckpoint(join(o.out, 'checkpoints', 'best'), manifestBase(step + 1, { ...(metrics ? { best: metrics } : {}), selection: 'last step' }), state.params);
        }
        await saveCheckpoint(latest, manifestBase(step + 1, { best, last: metrics }), state.params, state.momentum);
      }
    }
  } finally {
    await engine.close();
  }
  return { step: o.maxSteps, best: selected };
}

/** One line of the metrics log; a failed write (disk full) is EMSEG_FILE_WRITE, not a raw errno. */
async function appendLine(file: string, line: string): Promise<void> {
  try {
    await appendFile(file, `${line}\n`);
  } catch (e) {
    throw new EmsegError('EMSEG_FILE_WRITE', `${file}: cannot write: ${(e as Error).message}`, { file, cause: e });
  }
}

/** What makes a run the run it is; `--max-steps` (and the periods) may change when it resumes. */
const RUN_IDENTITY = ['task', 'train', 'seed', 'workers', 'lr', 'warmup', 'augment', 'config'] as const;

/**
 * A run resumes only with the options it started with: the checkpoint in OUT was made by them, and
 * continuing it with another dataset, seed or model would give a model nobody asked for, silently.
 */
async function checkSameRun(o: TrainOptions, config: DetectorConfig): Promise<void> {
  const file = join(o.out, 'config.json');
  let before: Record<string, unknown>;
  try {
    before = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: cannot tell which options made the checkpoint in ${o.out} (${(e as Error).message}); use another --out`, { file, cause: e });
  }
  const now: Record<string, unknown> = { ...o, config, train: resolve(o.train) };
  if (typeof before.train === 'string') before.train = resolve(before.train);
  for (const key of RUN_IDENTITY) {
    if (JSON.stringify(before[key]) !== JSON.stringify(now[key])) {
      throw new EmsegError(
        'EMSEG_INVALID_ARGUMENT',
        `${o.out} holds a run started with another ${key} (${JSON.stringify(before[key])?.slice(0, 200)}; this run: ${JSON.stringify(now[key])?.slice(0, 200)}): its checkpoint would be continued as if it were this run's; use another --out`,
        { file },
      );
    }
  }
}

/**
 * metrics.jsonl as the resumed run will continue it: the steps after the checkpoint (logged by the
 * interrupted run, repeated now) and a line cut by a kill are dropped, so the log reads as one run.
 */
async function truncateMetricsLog(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const kept = (await readFile(file, 'utf8')).split('\n').filter((line) => {
    try {
      const s = (JSON.parse(line) as { step?: unknown }).step;
      return typeof s === 'number' && s <= step;
    } catch {
      return false;
    }
  });
  await writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
}

/** Replace the parameters `valueOf` gives (in checkpoint order `specs`) and reset the momentum. */
async function overwriteParams(engine: Engine, specs: { name: string; shape: number[] }[], valueOf: (p: { name: string; shape: number[] }) => Float32Array | undefined): Promise<void> {
  const { params } = await engine.state();
  let offset = 0;
  for (const p of specs) {
    const v = valueOf(p);
    if (v) params.set(v, offset);
    offset += p.shape.reduce((a, d) => a * d, 1);
  }
  await engine.load({ params, momentum: new Float32Array(params.length) });
}

function* paramsOfModel(config: DetectorConfig) {
  for (const spec of modelSpecs(config)) for (const p of paramsOf(spec)) yield { name: p.name, shape: p.shape };
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}
