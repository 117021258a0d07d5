import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmsegError } from '../../core/errors.ts';
import { collectRecords, readManifest } from '../../sdk-node/analyze/manifest.ts';
import { writeAggregateOutputs } from '../../sdk-node/analyze/outputs.ts';
import { arraySpec } from '../../sdk-node/analyze/shards.ts';
import { mergeTune, resultsTable } from '../../training/tune.ts';
import { writeFileAtomic } from '../../sdk-node/write-file.ts';
import { UsageError } from '../usage-error.ts';

export const mergeUsage = `Usage: emseg merge DIR [--json]


Build the tables (objects.csv, summary.csv/json), predictions.coco.json and report of a sharded \`emseg analyze --shard\`
run from the per-image records of all its shards: the same bytes a single-machine run writes.
Idempotent. When images lack a valid record (a shard not run, killed, or run with another model or
options, or an input changed since), nothing is written: their list and the --array spec of the
shards to resubmit are printed, and the exit code is 1. Images that failed are listed in
DIR/failures.json (exit code 1), as in a single-machine run.
For a folder of \`emseg tune --trial auto\` array tasks: tune.json, results.md and best-config.json from
every trial's result (missing trials listed with the --array spec; exit 1).
  --json   {"images", "analysed", "failed", "missing": [paths], "resubmit": "0,2-3"} on stdout`;

export async function mergeCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { json: { type: 'boolean', default: false } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('give one analysis folder DIR');
  const dir = positionals[0];
  const t = await mergeTune(dir);
  if (t) {
    if (t.missing.length > 0) {
      process.stderr.write(`emseg merge: trials ${t.missing.join(', ')} have no result; resubmit them: sbatch --array=${arraySpec(t.missing)} ... (emseg tune --trial auto)\n`);
      return 1;
    }
    out(resultsTable(t.results));
    if (t.best) out(`\nbest: trial ${t.best.trial}, validation AP ${t.best.AP.toFixed(3)}; settings in ${dir}/best-config.json`);
    return 0;
  }
  const m = readManifest(dir);
  if (!m) throw new EmsegError('EMSEG_FILE_READ', `${dir}: no manifest.json (not an emseg analyze output folder)`, { file: dir });
  const state = collectRecords(dir, m);
  const report = { images: m.inputs.length, analysed: state.summary.records.length, failed: state.summary.failures.length, missing: state.missing.map((x) => x.path), resubmit: state.resubmit };
  if (state.missing.length > 0) {
    if (values.json) out(JSON.stringify(report));
    const shown = state.missing.slice(0, 20).map((x) => `  ${x.path} (shard ${x.shard})`).join('\n');
    process.stderr.write(`emseg merge: ${state.missing.length} of ${m.inputs.length} images have no valid record:\n${shown}${state.missing.length > 20 ? `\n  ... ${state.missing.length - 20} more` : ''}\nresubmit those shards: sbatch --array=${state.resubmit} ... (the shard index is the array task id for --array=0-${(m.shards ?? 1) - 1})\n`);
    return 1;
  }
  await writeAggregateOutputs(dir, state.summary, m.classes, new Set(m.formats), { model: m.model, report: m.report });
  if (values.json) out(JSON.stringify(report));
  else out(`merged ${state.summary.records.length} of ${m.inputs.length} images from ${m.shards ?? 1} shard(s) into ${dir}`);
  if (state.summary.failures.length > 0) {
    await writeFileAtomic(join(dir, 'failures.json'), `${JSON.stringify(state.summary.failures, null, 1)}\n`);
    process.stderr.write(`emseg merge: ${state.summary.failures.length} image(s) failed:\n${state.summary.failures.map((f) => `  ${f.path}: ${f.error}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}
