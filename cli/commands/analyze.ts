import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../sdk-node/write-file.ts';
import { expandInputs } from '../../sdk-node/analyze/inputs.ts';
import { toGeoJson, writeAggregateOutputs, writeOverlay } from '../../sdk-node/analyze/outputs.ts';
import { type AnalysisManifest, freezeForShards, shardInputs, writeManifest } from '../../sdk-node/analyze/manifest.ts';
import { analysisKey, recordName, runAnalysis } from '../../sdk-node/analyze/run-analysis.ts';
import { type Shard, resolveShard } from '../../sdk-node/analyze/shards.ts';
import { UsageError } from '../usage-error.ts';

export const analyzeUsage = `Usage: emseg analyze INPUTS... --model NAME|FILE --out DIR [options]

Detect and measure every object in many images: files, folders (their images) and globs
("data/**/*.dm4", quoted). Resumable: finished images are kept in DIR/images/ and skipped when the
command runs again (a kill loses only the image in flight). Exit code 1 lists images that failed.
  --model NAME|FILE        a zoo name (vesicles, vesicle-large, vesicle-small, hole, nanorod) or .onnx file
  --out DIR                output folder
  --format LIST            any of csv,json,coco,geojson (default csv,json,coco)
  --overlay                overlay PNGs of the detections in DIR/overlays/
  --report                 DIR/report.html: per-class table and histograms, self-contained
  --score-threshold S      keep detections with score >= S (default 0.5)
  --threads N              ONNX Runtime threads per session (default: all cores; 1 with --workers)
  --workers N              worker threads, each with its own session and one image at a time
                           (default 1; 2 on a 2-core machine gives the most images/s: docs/benchmarks.md)
  --tile N                 tile side for large images (default 1024); --overlap N (default 128)
  --no-rescale             do not resample images to the model's pixel size
  --recursive              also take images from subfolders of folders given
  --shard i/n | auto       analyse only shard i of n (0-based) of the inputs, frozen in DIR/manifest.json
                           by the first task; auto: from SLURM_ARRAY_TASK_ID (with _MIN, _STEP, _COUNT),
                           JOB_COMPLETION_INDEX (Kubernetes; needs --shards N) or AWS_BATCH_JOB_ARRAY_INDEX
                           (with AWS_BATCH_JOB_ARRAY_SIZE or --shards N). Shards write per-image records
                           only; \`emseg merge DIR\` builds the tables (docs/cluster.md)
  --shards N               the shard count where the environment does not give it
Threads default to SLURM_CPUS_PER_TASK when set. SIGTERM (a scheduler's time limit) finishes the images
in flight and exits 143; running the same command again continues.`;

function bar(done: number, total: number): string {
  const width = 24;
  const filled = Math.round((width * done) / Math.max(total, 1));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export async function analyzeCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        model: { type: 'string' }, out: { type: 'string' }, format: { type: 'string', default: 'csv,json,coco' },
        overlay: { type: 'boolean', default: false }, report: { type: 'boolean', default: false },
        'score-threshold': { type: 'string' }, threads: { type: 'string' }, workers: { type: 'string', default: '1' }, tile: { type: 'string' }, overlap: { type: 'string' },
        'no-rescale': { type: 'boolean', default: false }, recursive: { type: 'boolean', default: false },
        shard: { type: 'string' }, shards: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('give input images, folders or globs');
  if (!values.model) throw new UsageError('--model NAME|FILE is required');
  if (!values.out) throw new UsageError('--out DIR is required');
  const formats = new Set(values.format.split(',').map((f) => f.trim()).filter(Boolean));
  for (const f of formats) if (!['csv', 'json', 'coco', 'geojson'].includes(f)) throw new UsageError(`--format: unknown format "${f}" (csv, json, coco, geojson)`);
  const num = (name: string, text: string | undefined, ok: (v: number) => boolean, expected: string): number | undefined => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (text.trim() === '' || !ok(v)) throw new UsageError(`--${name} must be ${expected}, got "${text}"`);
    return v;
  };
  const scoreThreshold = num('score-threshold', values['score-threshold'], (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  // Threads follow the CPUs Slurm gave the task unless --threads says otherwise.
  const slurmCpus = process.env.SLURM_CPUS_PER_TASK;
  const threads = num('threads', values.threads ?? (slurmCpus && /^\d+$/.test(slurmCpus) && Number(slurmCpus) > 0 ? slurmCpus : undefined), (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const shards = num('shards', values.shards, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const workers = num('workers', values.workers, (v) => Number.isInteger(v) && v > 0 && v <= 64, 'an integer from 1 to 64') ?? 1;
  const tile = num('tile', values.tile, (v) => Number.isInteger(v) && v >= 64, 'an integer >= 64');
  const overlap = num('overlap', values.overlap, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const paths = await expandInputs(positionals, { recursive: values.recursive });
  const dir = values.out;
  await mkdir(dir, { recursive: true });
  if (values.overlay) await mkdir(join(dir, 'overlays'), { recursive: true });
  if (formats.has('geojson')) await mkdir(join(dir, 'geojson'), { recursive: true });
  const detectorOptions = {
    ...(scoreThreshold !== undefined ? { scoreThreshold } : {}),
    ...(threads ? { threads } : {}),
    ...(tile || overlap !== undefined ? { tile: { size: tile ?? 1024, overlap: overlap ?? 128 } } : {}),
    ...(values['no-rescale'] ? { rescale: false } : {}),
  };
  // The run's result key (model content + result-changing options) and the classes its tables list
  // (a zoo alias such as vesicle-large reports its own class only).
  const { key, classes } = await analysisKey(values.model, detectorOptions);
  const manifest: AnalysisManifest = { format: 'emseg-analysis-manifest-1', model: values.model, key, classes, formats: [...formats], report: values.report, inputs: paths, cwd: process.cwd(), shards: null };
  let todo = paths;
  let shard: Shard | null = null;
  if (values.shard !== undefined) {
    shard = resolveShard(values.shard, process.env, shards);
    process.stderr.write(`emseg analyze: shard ${shard.index}/${shard.count} (${shard.source})${threads ? `, ${threads} thread${threads > 1 ? 's' : ''}${values.threads === undefined ? ' (SLURM_CPUS_PER_TASK)' : ''}` : ''}\n`);
    const frozen = await freezeForShards(dir, { ...manifest, shards: shard.count });
    todo = shardInputs(frozen, shard.index).map((p) => resolve(frozen.cwd, p));
  } else {
    await writeManifest(dir, manifest);
  }
  // A scheduler's time limit sends SIGTERM: finish the images in flight, start no more.
  const stop = new AbortController();
  const onTerm = (): void => stop.abort();
  process.once('SIGTERM', onTerm);
  const start = performance.now();
  let firstDone = -1;
  const tty = process.stderr.isTTY;
  const summary = await runAnalysis(todo, {
    model: values.model,
    out: dir,
    detector: detectorOptions,
    workers,
    key,
    signal: stop.signal,
    onImage: async (path, image, result) => {
      const name = recordName(path);
      if (values.overlay) await writeOverlay(join(dir, 'overlays', `${name}.png`), await image(), result, classes);
      if (formats.has('geojson')) await writeFileAtomic(join(dir, 'geojson', `${name}.geojson`), JSON.stringify(toGeoJson(result, classes)));
    },
    progress: (p) => {
      if (firstDone < 0) firstDone = p.done - 1;
      const elapsed = (performance.now() - start) / 1000;
      const rate = (p.done - p.skipped) / Math.max(elapsed, 1e-3);
      const eta = rate > 0 ? (p.total - p.done) / rate : 0;
      const line = `${bar(p.done, p.total)} ${p.done}/${p.total} images | ${p.objects} objects | ${rate.toFixed(2)} images/s | ETA ${Math.round(eta)} s${p.skipped ? ` | ${p.skipped} already done` : ''}${p.failed ? ` | ${p.failed} failed` : ''}`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  process.off('SIGTERM', onTerm);
  if (summary.redone > 0) process.stderr.write(`emseg analyze: ${summary.redone} image${summary.redone > 1 ? 's' : ''} analysed in ${dir} with another model or options were analysed again\n`);
  const objects = summary.records.reduce((n, r) => n + r.record.result.instances.length, 0);
  if (stop.signal.aborted) {
    process.stderr.write(`emseg analyze: stopped by SIGTERM after ${summary.records.length} of ${todo.length} images (finished ones are kept; run the same command again to continue)\n`);
    return 143;
  }
  if (shard) {
    out(`shard ${shard.index}/${shard.count}: analysed ${summary.records.length} of ${todo.length} images (${summary.processed} now, ${summary.skipped} from an earlier run), ${summary.failures.length} failed: ${objects} objects; when every shard is done: emseg merge ${dir}`);
    return summary.failures.length > 0 ? 1 : 0;
  }
  // GeoJSON of images finished in an earlier run exist already; overlays likewise.
  await writeAggregateOutputs(dir, summary, classes, formats, { model: values.model, report: values.report });
  out(`analysed ${summary.records.length} of ${paths.length} images (${summary.processed} now, ${summary.skipped} from an earlier run): ${objects} objects; results in ${dir}`);
  if (summary.failures.length > 0) {
    await writeFileAtomic(join(dir, 'failures.json'), `${JSON.stringify(summary.failures, null, 1)}\n`);
    process.stderr.write(`emseg analyze: ${summary.failures.length} image(s) failed:\n${summary.failures.map((f) => `  ${f.path}: ${f.error}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}
