import { EmsegError } from '../../core/errors.ts';

/** One task's part of a sharded analysis: shard `index` of `count` (0-based). */
export interface Shard {
  index: number;
  count: number;
  /** Where it came from, for the log line: "--shard 2/4" or "SLURM_ARRAY_TASK_ID=7 ...". */
  source: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const int = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : null);

/**
 * The shard a cluster engine gave this task, from its environment; null when none is set.
 * - Slurm job arrays: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_MIN, _STEP and _COUNT
 *   (`--array=0-3` and `--array=10-40:10` both give shards 0..3); with `--shards N` the task id is
 *   the shard index itself (deploy/slurm's 0-based arrays, and resubmitted ids such as --array=3,17);
 * - Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX; the count is the Job's `completions`, which the
 *   pod does not see: give it as `--shards N` (or EMSEG_SHARDS in the manifest's env);
 * - AWS Batch array jobs: AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE (both set by AWS
 *   Batch in every child; `--shards N` where the size is missing).
 */
export function shardFromEnv(env: Env, shards?: number): Shard | null {
  const slurmId = int(env.SLURM_ARRAY_TASK_ID);
  if (slurmId !== null && shards !== undefined) {
    // With the shard count given, the task id IS the shard (0-based arrays, and resubmissions such as
    // --array=3,17, whose own MIN and COUNT describe only the resubmitted ids).
    if (slurmId >= shards) throw badEnv('SLURM_ARRAY_TASK_ID', `a shard index below --shards ${shards}`, String(slurmId));
    return { index: slurmId, count: shards, source: `SLURM_ARRAY_TASK_ID=${slurmId} of --shards ${shards}` };
  }
  if (slurmId !== null) {
    const min = int(env.SLURM_ARRAY_TASK_MIN) ?? 0;
    const step = int(env.SLURM_ARRAY_TASK_STEP) ?? 1;
    const count = int(env.SLURM_ARRAY_TASK_COUNT);
    if (count === null || count < 1 || step < 1) throw badEnv('SLURM_ARRAY_TASK_COUNT/SLURM_ARRAY_TASK_STEP', 'a positive count and step', `${env.SLURM_ARRAY_TASK_COUNT}/${env.SLURM_ARRAY_TASK_STEP}`);
    const offset = slurmId - min;
    if (offset < 0 || offset % step !== 0 || offset / step >= count) throw badEnv('SLURM_ARRAY_TASK_ID', `one of the array's ${count} ids from ${min} in steps of ${step}`, String(slurmId));
    return { index: offset / step, count, source: `SLURM_ARRAY_TASK_ID=${slurmId} (min ${min}, step ${step}, count ${count})` };
  }
  const k8s = int(env.JOB_COMPLETION_INDEX);
  if (k8s !== null) {
    const count = shards ?? int(env.EMSEG_SHARDS);
    if (count === null) throw badEnv('JOB_COMPLETION_INDEX', 'a shard count: --shards N (the Indexed Job\'s completions) or EMSEG_SHARDS', 'no count');
    if (k8s >= count) throw badEnv('JOB_COMPLETION_INDEX', `an index below the ${count} shards`, String(k8s));
    return { index: k8s, count, source: `JOB_COMPLETION_INDEX=${k8s} of ${count}` };
  }
  const aws = int(env.AWS_BATCH_JOB_ARRAY_INDEX);
  if (aws !== null) {
    const count = int(env.AWS_BATCH_JOB_ARRAY_SIZE) ?? shards ?? null;
    if (count === null) throw badEnv('AWS_BATCH_JOB_ARRAY_INDEX', 'the array size: AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch sets it in array children) or --shards N', 'no size');
    if (aws >= count) throw badEnv('AWS_BATCH_JOB_ARRAY_INDEX', `an index below the array size ${count}`, String(aws));
    return { index: aws, count, source: `AWS_BATCH_JOB_ARRAY_INDEX=${aws} of ${count}` };
  }
  return null;
}

function badEnv(name: string, expected: string, got: string): EmsegError {
  return new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: expected ${expected}, got ${got}`);
}

/**
 * `--shard i/n` or `--shard auto` (the engine's environment). An explicit value that contradicts the
 * environment is an error: two tasks would otherwise analyse the same images and skip others.
 */
export function resolveShard(spec: string, env: Env, shards?: number): Shard {
  const fromEnv = shardFromEnv(env, shards);
  if (spec === 'auto') {
    if (!fromEnv) throw new EmsegError('EMSEG_INVALID_ARGUMENT', '--shard auto: no SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX in the environment (give --shard i/n)');
    return fromEnv;
  }
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `--shard must be i/n with 0 <= i < n, or auto; got "${spec}"`);
  const shard = { index: Number(m[1]), count: Number(m[2]), source: `--shard ${spec}` };
  if (fromEnv && (fromEnv.index !== shard.index || fromEnv.count !== shard.count)) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `--shard ${spec} contradicts the environment (${fromEnv.source} is shard ${fromEnv.index}/${fromEnv.count})`);
  }
  return shard;
}

/**
 * Which shard each input goes to: by the rank of its path in code-unit order, round robin. The
 * inputs are the frozen manifest's, so every task computes the same assignment whatever order it
 * listed files in, and shards differ in size by at most one image.
 */
export function shardOfEach(paths: readonly string[], count: number): number[] {
  const order = paths.map((p, i) => [p, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  const shard = new Array<number>(paths.length);
  order.forEach(([, i], rank) => (shard[i] = rank % count));
  return shard;
}

/** Shard indices as a Slurm --array list: 0,2,5-7. */
export function arraySpec(indices: Iterable<number>): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return parts.join(',');
}
