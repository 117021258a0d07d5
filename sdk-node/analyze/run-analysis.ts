import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isEmsegError } from '../../core/errors.ts';
import type { EmImage } from '../../core/formats/types.ts';
import type { ImageResult } from '../../core/inference/types.ts';
import { DetectorPool } from '../detector-pool.ts';
import { mapConcurrent } from '../../core/inference/map-concurrent.ts';
import { DEFAULT_SCORE_THRESHOLD, DEFAULT_TILE, Detector, type DetectorOptions } from '../detector.ts';
import { writeFileAtomic } from '../write-file.ts';

/**
 * The batch behind `emseg analyze`: every input image through one Detector, the next image decoded
 * while the current one is in ONNX Runtime, and each finished image written at once (atomically) to
 * DIR/images/<hh>/<name>.json (256 sub-folders by path hash, so a million records do not share one
 * directory). That per-image record is the unit of resumption: a restarted run skips
 * images whose record matches the same file (path, size, mtime), model content and result-changing
 * options (`resultKey`), so a kill -9 loses at most
 * the images in flight. Tables, overlays and the report are built from the records afterwards
 * (outputs.ts), in input order, so an interrupted-and-resumed run writes the same files as an
 * uninterrupted one.
 */
export interface AnalysisOptions {
  model: string;
  out: string;
  detector?: DetectorOptions;
  /** Called after each image (done, skipped or failed). */
  progress?: (p: AnalysisProgress) => void;
  /**
   * Per-image outputs (overlays, GeoJSON), called before the image's record is written;
   * `image()` gives the decoded pixels (decoded again on this thread when workers ran the image).
   */
  onImage?: (path: string, image: () => Promise<EmImage>, result: ImageResult) => Promise<void>;
  /** Worker threads, each with its own session (DetectorPool); 1 (default): one Detector here, decoding ahead. */
  workers?: number;
  /** The run's result key (`analysisKey`), when the caller computed it already. */
  key?: string;
  /** Stop starting images once aborted (SIGTERM from a scheduler's time limit); images in flight finish. */
  signal?: AbortSignal;
}

export interface AnalysisProgress {
  done: number;
  total: number;
  objects: number;
  failed: number;
  skipped: number;
  path: string;
}

/** What DIR/images/<hh>/<name>.json holds. */
export interface ImageRecord {
  format: 'emseg-analysis-image-1';
  source: { path: string; size: number; mtimeMs: number };
  model: { path: string; size: number; mtimeMs: number };
  /**
   * What made the result: a hash of the model file's content and of every option that changes
   * results (classes, score threshold, tiling, rescaling). A record whose key differs from the run's
   * is redone, never reused (an alias such as vesicle-large shares its file with vesicles).
   */
  key: string;
  result: ImageResult;
  ms: number;
}

/** DIR/images/<hh>/<name>.failed.json: an image that could not be analysed with this key (merge reports it). */
export interface FailureRecord {
  format: 'emseg-analysis-failure-1';
  source: { path: string; size: number; mtimeMs: number } | null;
  key: string;
  error: string;
}

export interface AnalysisSummary {
  records: { path: string; record: ImageRecord }[];
  failures: { path: string; error: string }[];
  skipped: number;
  processed: number;
  /** Images whose earlier record was made with another model or options, analysed again. */
  redone: number;
}

/** A file name for an input's record: its base name plus a hash of its absolute path (inputs may share names). */
export function recordName(path: string): string {
  const hash = createHash('sha256').update(resolve(path)).digest('hex').slice(0, 10);
  return `${basename(path).replace(/[^\w.-]+/g, '_')}-${hash}`;
}

/** Where an input's record lives: DIR/images/<first two hex digits of the path hash>/<recordName>.json. */
export function recordFile(out: string, path: string, failed = false): string {
  const name = recordName(path);
  return join(out, 'images', name.slice(-10, -8), `${name}${failed ? '.failed' : ''}.json`);
}

export function fileIdentity(path: string): { path: string; size: number; mtimeMs: number } {
  const s = statSync(path);
  return { path: resolve(path), size: s.size, mtimeMs: Math.round(s.mtimeMs) };
}

/** The run's result key and the classes it reports: the model file is read (hashed) once. */
export async function analysisKey(model: string, options: DetectorOptions): Promise<{ key: string; classes: string[] }> {
  const detector = new Detector(model, { ...options, log: () => {} });
  try {
    const info = await detector.info();
    return { key: resultKey(await fileHash(detector.modelPath), detector.classes, options), classes: detector.classes ?? info.classes };
  } finally {
    await detector.dispose();
  }
}

/** A record file of the given format, or null when it is missing, unreadable or of another format. */
function readRecordOf<T extends { format: string }>(file: string, format: T['format']): T | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as T;
    return r?.format === format ? r : null;
  } catch {
    return null; // missing or unreadable: analyse the image again
  }
}

export const readRecord = (file: string): ImageRecord | null => readRecordOf<ImageRecord>(file, 'emseg-analysis-image-1');
export const readFailure = (file: string): FailureRecord | null => readRecordOf<FailureRecord>(file, 'emseg-analysis-failure-1');

/** The identity of an input file now, or null when it cannot be read. */
export function currentIdentity(path: string): { path: string; size: number; mtimeMs: number } | null {
  try {
    return fileIdentity(path);
  } catch {
    return null;
  }
}

/** sha256 of a file's bytes (streamed). */
async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The key of results made by `modelHash` with these options: every option that changes a result,
 * in a fixed order, with the SDK's defaults filled in (so "default" and its explicit value agree).
 */
export function resultKey(modelHash: string, classes: readonly string[] | undefined, o: DetectorOptions): string {
  const tile = o.tile === false ? false : { size: o.tile?.size ?? DEFAULT_TILE.size, overlap: o.tile?.overlap ?? DEFAULT_TILE.overlap };
  const settings = { model: modelHash, classes: classes ? [...classes] : null, scoreThreshold: o.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD, tile, rescale: o.rescale ?? true };
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}

export const sameFile = (a: { size: number; mtimeMs: number; path: string }, b: { size: number; mtimeMs: number; path: string }): boolean => a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;

export async function runAnalysis(paths: readonly string[], o: AnalysisOptions): Promise<AnalysisSummary> {
  const dir = join(o.out, 'images');
  await mkdir(dir, { recursive: true });
  const detector = new Detector(o.model, o.detector ?? {});
  const pool = (o.workers ?? 1) > 1 ? new DetectorPool(o.model, { ...o.detector, workers: o.workers }) : null;
  const summary: AnalysisSummary = { records: [], failures: [], skipped: 0, processed: 0, redone: 0 };
  let objects = 0;
  try {
    const model = fileIdentity((await detector.info(), detector.modelPath));
    const key = o.key ?? resultKey(await fileHash(detector.modelPath), detector.classes, o.detector ?? {});
    // Which images still need work; the others are read back.
    const todo: { path: string; index: number }[] = [];
    const done = new Map<number, { path: string; record: ImageRecord }>();
    paths.forEach((path, index) => {
      const r = readRecord(recordFile(o.out, path));
      const source = currentIdentity(path);
      if (r && source && sameFile(r.source, source) && r.key === key) done.set(index, { path, record: r });
      else {
        if (r && source && sameFile(r.source, source)) summary.redone++;
        todo.push({ path, index });
      }
    });
    summary.skipped = done.size;
    for (const d of done.values()) objects += d.record.result.instances.length;
    const failed = new Map<number, { path: string; error: string }>();
    // Counts only: the sorted record lists are built once, at the end.
    const report = (path: string): void => o.progress?.({ done: done.size + failed.size, total: paths.length, objects, failed: failed.size, skipped: summary.skipped, path });
    const finish = async (k: number, outcome: { image?: EmImage; result?: ImageResult; error?: unknown }, ms: number): Promise<void> => {
      const { path, index } = todo[k];
      try {
        if (outcome.error !== undefined) throw outcome.error;
        const result = outcome.result as ImageResult;
        const record: ImageRecord = { format: 'emseg-analysis-image-1', source: fileIdentity(path), model, key, result, ms: Math.round(ms) };
        // Per-image outputs first, the record last: the record marks the image done, so a kill
        // between the two redoes the image instead of leaving its overlay or GeoJSON missing.
        await o.onImage?.(path, async () => outcome.image ?? (await detector.decode(path)), result);
        await writeFileAtomic(recordFile(o.out, path), JSON.stringify(record));
        await rm(recordFile(o.out, path, true), { force: true });
        done.set(index, { path, record });
        summary.processed++;
        objects += result.instances.length;
      } catch (e) {
        // Classified by code: a problem with this image (or its run) is recorded and the batch goes on;
        // a model that cannot load, and anything that is not an EmsegError (a bug), stops the run.
        // (a full disk, EMSEG_FILE_WRITE, stops it too: no later image could be recorded).
        if (!isEmsegError(e) || e.code === 'EMSEG_MODEL_LOAD' || e.code === 'EMSEG_FILE_WRITE') throw e;
        const error = e instanceof Error ? e.message : String(e);
        failed.set(index, { path, error });
        const failure: FailureRecord = { format: 'emseg-analysis-failure-1', source: currentIdentity(path), key, error };
        await writeFileAtomic(recordFile(o.out, path, true), JSON.stringify(failure));
      }
      report(path);
    };
    // Up to two images per worker in flight (one Detector: image i + 1 is decoded while image i
    // runs); results are recorded as they finish.
    const analyse = async (k: number): Promise<{ image?: EmImage; result: ImageResult; ms: number }> => {
      const t = performance.now();
      if (pool) return { result: await pool.run(todo[k].path), ms: performance.now() - t };
      const image = await detector.decode(todo[k].path);
      return { image, result: await detector.runDecoded(image, todo[k].path), ms: performance.now() - t };
    };
    const order = todo.map((_, k) => k);
    for await (const item of mapConcurrent(order, analyse, { concurrency: 2 * (pool?.size ?? 1), signal: o.signal })) {
      await finish(item.index, item.error !== undefined ? { error: item.error } : { image: item.result?.image, result: item.result?.result }, item.result?.ms ?? 0);
    }
    summary.records = [...done.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    summary.failures = [...failed.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    return summary;
  } finally {
    await detector.dispose();
    await pool?.dispose();
  }
}
