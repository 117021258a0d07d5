import { parseArgs } from 'node:util';
import { parseJsonText } from '../../core/coco/json.ts';
import { readTextFile } from '../../sdk-node/read-file.ts';
import { type BackendChoice, selectBackend, threadsPerWorker } from '../../training/backend/select-backend.ts';
import { DEFAULT_TRAIN, type Task } from '../../training/train.ts';
import { resultsTable, tune } from '../../training/tune.ts';
import { resolveShard } from '../../sdk-node/analyze/shards.ts';
import { UsageError } from '../usage-error.ts';

export const tuneUsage = `Usage: emseg tune --task rotated-detection|instance-segmentation --train ANN.json --val ANN.json --out runs/NAME [options]

Random search over learning rate (log-uniform 0.003-0.03), warm-up (50/100/200 steps), schedule
length (0.5/0.75/1 x --max-steps), anchor scale (0.75/1/1.5 x 16-128 px) and aspect ratios
(0.5-2 or 0.25-4), RPN positive fraction (0.25/0.5), RoIs per image (128/256/512), RoI positive
fraction (0.25/0.5) and augmentation (strength 0-1.5, flips/90-degree turns on or off, free
rotation 0/180 degrees, scale jitter 0/25 %). Each trial is an 'emseg train' run in runs/NAME/trial-K scored by its validation AP; runs/NAME/tune.json records
finished trials (a killed search resumes), results.md is the table (best first) and
best-config.json the winning settings.
  --trials N        number of trials (default 8)
  --max-steps N     longest schedule a trial may draw (default 500)
  --seed S          search seed (trial K's settings depend only on S and K) and training seed (default 0)
  --workers N       1 or 2 (default 2); --backend B as in emseg train
  --config FILE     base model settings (JSON) the trials start from
  --trial K|auto    run only trial K (an array task; auto: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or
                    AWS_BATCH_JOB_ARRAY_INDEX is the trial); each trial writes trial-K/trial-result.json and
                    \`emseg merge runs/NAME\` writes tune.json, results.md and best-config.json`;

export async function tuneCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true,
      options: {
        task: { type: 'string' }, train: { type: 'string' }, val: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
        trials: { type: 'string', default: '8' }, 'max-steps': { type: 'string', default: '500' }, seed: { type: 'string', default: '0' },
        workers: { type: 'string', default: '2' }, backend: { type: 'string', default: 'auto' }, trial: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.task !== 'rotated-detection' && values.task !== 'instance-segmentation') throw new UsageError('--task must be rotated-detection or instance-segmentation');
  if (!values.train || !values.val || !values.out) throw new UsageError('--train, --val and --out are required');
  const int = (v: string, name: string, ok: (n: number) => boolean): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || !ok(n)) throw new UsageError(`${name} has an invalid value "${v}"`);
    return n;
  };
  const trials = int(values.trials, '--trials', (n) => n > 0);
  const maxSteps = int(values['max-steps'], '--max-steps', (n) => n > 0);
  const seed = int(values.seed, '--seed', () => true);
  const workers = int(values.workers, '--workers', (n) => n === 1 || n === 2) as 1 | 2;
  const backend = values.backend as BackendChoice;
  if (!['auto', 'wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, cpu or tensorflow, received "${backend}"`);
  const config = values.config ? (parseJsonText(await readTextFile(values.config), values.config) as Record<string, unknown>) : undefined;
  // --trial K|auto: one trial per array task (auto: the task's index, as emseg analyze --shard auto).
  let only: number | undefined;
  if (values.trial !== undefined) {
    const shard = resolveShard(values.trial === 'auto' ? 'auto' : `${values.trial}/${trials}`, process.env, trials);
    only = shard.index;
    process.stderr.write(`emseg tune: trial ${only} of ${trials} (${shard.source})\n`);
  }
  const info = await selectBackend(backend, { threads: threadsPerWorker(workers) });
  process.stderr.write(`emseg tune: backend ${info.description}, ${workers} worker${workers > 1 ? 's' : ''}, ${trials} trials\n`);
  const { results, best } = await tune({
    base: { ...DEFAULT_TRAIN, task: values.task as Task, train: values.train, val: values.val, seed, backend, workers, ...(config ? { config: config as never } : {}) },
    out: values.out,
    trials,
    maxSteps,
    seed,
    ...(only !== undefined ? { only } : {}),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  if (only !== undefined) {
    out(`trial ${only}: validation AP ${results[0]?.AP.toFixed(3) ?? 'n/a'}; when every trial is done: emseg merge ${values.out}`);
    return 0;
  }
  out(resultsTable(results));
  if (best) out(`\nbest: trial ${best.trial}, validation AP ${best.AP.toFixed(3)}; settings in ${values.out}/best-config.json`);
  return 0;
}
