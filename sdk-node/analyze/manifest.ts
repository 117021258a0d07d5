import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmsegError } from '../../core/errors.ts';
import { writeFileAtomic } from '../write-file.ts';
import { type AnalysisSummary, currentIdentity, readFailure, readRecord, recordFile, sameFile } from './run-analysis.ts';
import { arraySpec, shardOfEach } from './shards.ts';

/**
 * DIR/manifest.json: the inputs of an analysis frozen once (in the order given, which is the order of
 * every table), the result key every record must carry, and the output settings, so that each array
 * task sees the same list and `emseg merge` rebuilds exactly what a single-machine run writes.
 */
export interface AnalysisManifest {
  format: 'emseg-analysis-manifest-1';
  /** The model as given (zoo name or file), as summary.json names it. */
  model: string;
  key: string;
  classes: string[];
  formats: string[];
  report: boolean;
  /** Input paths as given, relative to `cwd`. */
  inputs: string[];
  cwd: string;
  /** Shard count of a sharded run; null for a single-machine run. */
  shards: number | null;
}

export function manifestFile(dir: string): string {
  return join(dir, 'manifest.json');
}

export function readManifest(dir: string): AnalysisManifest | null {
  let text: string;
  try {
    text = readFileSync(manifestFile(dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(text) as AnalysisManifest;
    if (m.format !== 'emseg-analysis-manifest-1' || !Array.isArray(m.inputs)) throw new Error('not an emseg analysis manifest');
    return m;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${manifestFile(dir)}: ${(e as Error).message}`, { file: manifestFile(dir) });
  }
}

export async function writeManifest(dir: string, m: AnalysisManifest): Promise<void> {
  await writeFileAtomic(manifestFile(dir), `${JSON.stringify(m, null, 1)}\n`);
}

/**
 * The frozen manifest a shard works from: the existing one when its key and shard count agree (its
 * inputs win: a task that lists files later must not see another list), else a refusal that names
 * what differs; written by the first task when there is none (every task would write the same bytes).
 */
export async function freezeForShards(dir: string, wanted: AnalysisManifest): Promise<AnalysisManifest> {
  const existing = readManifest(dir);
  if (!existing) {
    await writeManifest(dir, wanted);
    return wanted;
  }
  if (existing.key !== wanted.key) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${dir} holds a sharded analysis made with another model or options (model ${existing.model}); use another --out, or the same --model and options`, { file: manifestFile(dir) });
  }
  if (existing.shards !== wanted.shards) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${dir} was split into ${existing.shards ?? 'no'} shards, this task says ${wanted.shards}; use the same shard count (or another --out)`, { file: manifestFile(dir) });
  }
  return existing;
}

/** The manifest's inputs that shard `index` analyses. */
export function shardInputs(m: AnalysisManifest, index: number): string[] {
  const shard = shardOfEach(m.inputs, m.shards ?? 1);
  return m.inputs.filter((_, i) => shard[i] === index);
}

export interface MergeState {
  summary: AnalysisSummary;
  /** Inputs without a valid record (none, another key, or the file changed since), with their shard. */
  missing: { path: string; shard: number }[];
  /** `--array=` list of the shards to run again. */
  resubmit: string;
}

/**
 * Every input's record, in manifest order: a record counts only with the manifest's key and the input
 * file unchanged since it was made; a failure record with that key is a failure (as in a single run).
 */
export function collectRecords(dir: string, m: AnalysisManifest): MergeState {
  const summary: AnalysisSummary = { records: [], failures: [], skipped: 0, processed: 0, redone: 0 };
  const shard = shardOfEach(m.inputs, m.shards ?? 1);
  const missing: { path: string; shard: number }[] = [];
  m.inputs.forEach((path, i) => {
    const abs = resolve(m.cwd, path);
    const source = currentIdentity(abs);
    const r = readRecord(recordFile(dir, abs));
    if (r && source && r.key === m.key && sameFile(r.source, source)) {
      summary.records.push({ path, record: r });
      return;
    }
    const f = readFailure(recordFile(dir, abs, true));
    if (f && f.key === m.key && (f.source === null ? source === null : source !== null && sameFile(f.source, source))) {
      summary.failures.push({ path, error: f.error });
      return;
    }
    missing.push({ path, shard: shard[i] });
  });
  summary.skipped = summary.records.length;
  return { summary, missing, resubmit: arraySpec(missing.map((x) => x.shard)) };
}
