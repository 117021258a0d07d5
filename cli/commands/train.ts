import { parseArgs } from 'node:util';
import { readTextFile } from '../../sdk-node/read-file.ts';
import { readZoo, resolveZooModel } from '../../sdk-node/zoo.ts';
import { parseJsonText } from '../../core/coco/json.ts';
import { type BackendChoice, selectBackend, threadsPerWorker } from '../../training/backend/select-backend.ts';
import { DEFAULT_TRAIN, INIT_LAYERS, type InitLayer, type Task, trainDetector } from '../../training/train.ts';
import { parseAugmentOptions } from '../../training/data/augment.ts';
import { loadCocoDataset } from '../../core/coco/load.ts';
import { UsageError } from '../usage-error.ts';

export const trainUsage = `Usage: emseg train --task rotated-detection|instance-segmentation --train ANN.json [--val ANN.json] --out runs/NAME [options]

Train a detector from a COCO dataset (images resolved relative to ANN.json). Resumes from
runs/NAME/checkpoints/latest when it exists. Writes runs/NAME/config.json, metrics.jsonl (one JSON per
log line and per validation) and checkpoints/{latest,best}.
  --task T          rotated-detection: Faster R-CNN with rotated boxes (needs "rbox" annotations);
                    instance-segmentation: Mask R-CNN (needs "segmentation" masks)
  --max-steps N     optimisation steps (default ${DEFAULT_TRAIN.maxSteps}); or --epochs N
  --seed S          seed for initialisation, data order and augmentation (default 0)
  --backend B       auto (tfjs-node-gpu, tfjs-node when installed, else wasm), wasm, cpu, tensorflow
  --workers N       1 or 2 data-parallel worker threads (default 2: both cores)
  --lr X            base learning rate (default ${DEFAULT_TRAIN.lr}); --eval-period N (default ${DEFAULT_TRAIN.evalPeriod})
  --config FILE     JSON overriding model settings (anchorSizes, rpn, roi, test, backbone...) and
                    "augment": {geometric, strength, warp: {rotate, scale, probability} | null}
                    (defaults: flips/90-degree turns, strength 1, warp {180, 0.25, 0.5})
  --init-backbone F ONNX file or zoo name (e.g. an ImageNet ResNet-18, or a zoo model such as nanorod;
                    float32 or float16 weights) whose tensors initialise the backbone, matched by name,
                    else convolutions by shape in order (docs/training.md); a fresh run only.
                    Default: the zoo's EM-pretrained backbone (em-backbone) when the zoo has one and no
                    --init-from is given; "none" trains from scratch
  --init-layers L   what --init-backbone initialises, comma-separated from backbone, fpn, rpn
                    (default: all three; FPN and RPN by name and shape, from emseg's own exports)
  --select S        which checkpoint becomes checkpoints/best: auto (default: best validation AP when
                    validation has >= 10 images, else the last step), best, last; the best on
                    validation is always kept as checkpoints/best-val
  --init-from DIR   checkpoint folder (e.g. runs/x/checkpoints/best) whose tensors initialise every
                    parameter of the same name and shape (fine-tuning; adding "rotatedStage"); a fresh run only`;

export async function trainCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        task: { type: 'string' }, train: { type: 'string' }, val: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
        epochs: { type: 'string' }, 'max-steps': { type: 'string' }, seed: { type: 'string', default: '0' }, backend: { type: 'string', default: 'auto' },
        workers: { type: 'string', default: '2' }, lr: { type: 'string' }, 'eval-period': { type: 'string' }, 'log-period': { type: 'string' },
        'init-backbone': { type: 'string' }, 'init-from': { type: 'string' }, 'init-layers': { type: 'string' }, select: { type: 'string', default: 'auto' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.task !== 'rotated-detection' && values.task !== 'instance-segmentation') throw new UsageError('--task must be rotated-detection or instance-segmentation');
  const task = values.task as Task;
  if (!values.train || !values.out) throw new UsageError('--train ANN.json and --out runs/NAME are required');
  const num = (v: string | undefined, name: string, check: (n: number) => boolean): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!check(n)) throw new UsageError(`${name} has an invalid value "${v}"`);
    return n;
  };
  const backend = values.backend as BackendChoice;
  if (!['auto', 'wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, cpu or tensorflow, received "${backend}"`);
  const workers = num(values.workers, '--workers', (n) => n === 1 || n === 2) as 1 | 2;
  const seed = num(values.seed, '--seed', Number.isInteger)!;
  let maxSteps = num(values['max-steps'], '--max-steps', (n) => Number.isInteger(n) && n > 0);
  const epochs = num(values.epochs, '--epochs', (n) => Number.isInteger(n) && n > 0);
  if (maxSteps === undefined && epochs !== undefined) {
    const ds = loadCocoDataset(await readTextFile(values.train), values.train);
    maxSteps = Math.ceil((epochs * ds.images.length) / workers);
  }
  const config = values.config ? (parseJsonText(await readTextFile(values.config), values.config) as Record<string, unknown>) : undefined;
  // The config file's "augment" group is a training option, not a model setting.
  const augment = parseAugmentOptions(config?.augment, values.config ?? 'augmentation');
  if (config) delete config.augment;
  const select = values.select as 'auto' | 'best' | 'last';
  if (!['auto', 'best', 'last'].includes(select)) throw new UsageError(`--select must be auto, best or last, received "${select}"`);
  const init = initBackboneChoice(values['init-backbone'], values['init-from']);
  const initLayers = values['init-layers']?.split(',').map((l) => l.trim());
  if (initLayers && (initLayers.length === 0 || !initLayers.every((l): l is InitLayer => (INIT_LAYERS as readonly string[]).includes(l)))) {
    throw new UsageError(`--init-layers takes ${INIT_LAYERS.join(', ')} separated by commas, received "${values['init-layers']}"`);
  }
  const info = await selectBackend(backend, { threads: threadsPerWorker(workers) });
  process.stderr.write(`emseg train: backend ${info.description}, ${workers} worker${workers > 1 ? 's' : ''}\n`);
  const result = await trainDetector({
    ...DEFAULT_TRAIN,
    task,
    train: values.train,
    val: values.val,
    out: values.out,
    seed,
    backend,
    workers,
    maxSteps: maxSteps ?? DEFAULT_TRAIN.maxSteps,
    lr: num(values.lr, '--lr', (n) => n > 0) ?? DEFAULT_TRAIN.lr,
    evalPeriod: num(values['eval-period'], '--eval-period', (n) => Number.isInteger(n) && n > 0) ?? DEFAULT_TRAIN.evalPeriod,
    logPeriod: num(values['log-period'], '--log-period', (n) => Number.isInteger(n) && n > 0) ?? DEFAULT_TRAIN.logPeriod,
    config: config as never,
    augment,
    ...(init ? { initBackbone: init.file, initBackboneIsDefault: init.isDefault, ...(initLayers ? { initLayers } : {}) } : {}),
    ...(values['init-from'] ? { initFrom: values['init-from'] } : {}),
    select,
    progress: (line: string) => process.stderr.write(`${line}\n`),
  });
  out(JSON.stringify({ out: values.out, steps: result.step, best: result.best }));
  return 0;
}

/**
 * The backbone initialisation: an explicit file or zoo name, "none", or by default the zoo's
 * EM-pretrained backbone (`em-backbone`): with a handful of real images, pre-training is what makes a
 * usable model (docs/training.md, real-data benchmarks). --init-from replaces the default.
 */
function initBackboneChoice(value: string | undefined, initFrom: string | undefined): { file: string; isDefault: boolean } | null {
  if (value === 'none') return null;
  if (value !== undefined) return { file: resolveZooModel(value)?.file ?? value, isDefault: false };
  if (initFrom !== undefined || !readZoo()['em-backbone']) return null;
  return { file: resolveZooModel('em-backbone')!.file, isDefault: true };
}
