import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EmsegError, previewJson } from '../core/errors.ts';

/**
 * Checkpoints: a folder with `manifest.json` (format, step, metrics, config, parameter count) and raw
 * little-endian float32 files `params.bin`, `momentum.bin`. Written to a temporary folder and renamed
 * into place, so a kill at any moment leaves either the previous or the new checkpoint complete.
 */
export interface CheckpointManifest {
  format: 'emseg-checkpoint-1';
  task: string;
  step: number;
  paramCount: number;
  config: unknown;
  metrics?: Record<string, unknown>;
  /** Parameter names and shapes in file order (the network description's order). */
  params: { name: string; shape: number[] }[];
}

/**
 * Write a checkpoint folder so that `dir` is always a whole checkpoint (or absent, with `<dir>.old`
 * whole): files go to a temporary folder that replaces `dir` by renames. A failure (disk full...)
 * removes the temporary folder and is EMSEG_FILE_WRITE; the previous checkpoint stays.
 */
export async function saveCheckpoint(dir: string, manifest: CheckpointManifest, params: Float32Array, momentum?: Float32Array): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old`;
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, 'params.bin'), new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
    if (momentum) await writeFile(join(tmp, 'momentum.bin'), new Uint8Array(momentum.buffer, momentum.byteOffset, momentum.byteLength));
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
    await rm(old, { recursive: true, force: true });
    if (existsSync(dir)) await rename(dir, old);
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw new EmsegError('EMSEG_FILE_WRITE', `${dir}: cannot write the checkpoint: ${(e as Error).message}`, { file: dir, cause: e });
  }
}

async function readFloats(path: string, expected: number): Promise<Float32Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${path}: missing (the checkpoint has a manifest declaring ${expected} parameters but no ${basename(path)})`, { file: path, cause: e });
    }
    throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: ${code === 'EISDIR' ? 'is a directory' : (e as Error).message}`, { file: path, cause: e });
  }
  if (bytes.byteLength !== expected * 4) {
    throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${path}: holds ${bytes.byteLength} bytes, the manifest declares ${expected} float32 values (${expected * 4} bytes)`, { file: path });
  }
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The manifest fields every reader relies on, checked; anything else (config, metrics) is the caller's to check. */
function checkManifest(value: unknown, file: string): CheckpointManifest {
  const bad = (what: string): never => {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: ${what}`, { file });
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return bad(`not a checkpoint manifest (a JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object)`);
  }
  const m = value as Record<string, unknown>;
  if (m.format !== 'emseg-checkpoint-1') bad(`not an emseg checkpoint (format ${m.format === undefined ? 'missing' : previewJson(m.format)})`);
  if (!(Number.isSafeInteger(m.paramCount) && (m.paramCount as number) >= 0)) bad(`paramCount is ${m.paramCount === undefined ? 'missing' : previewJson(m.paramCount)}, expected a non-negative integer`);
  if (m.step !== undefined && !(Number.isSafeInteger(m.step) && (m.step as number) >= 0)) bad(`step is ${previewJson(m.step)}, expected a non-negative integer`);
  if (m.task !== undefined && typeof m.task !== 'string') bad(`task is ${previewJson(m.task)}, expected a string`);
  if (m.metrics !== undefined && (m.metrics === null || typeof m.metrics !== 'object' || Array.isArray(m.metrics))) bad(`metrics is ${previewJson(m.metrics)}, expected an object`);
  if (m.params !== undefined) {
    if (!Array.isArray(m.params)) bad('params is not a list of {name, shape}');
    (m.params as unknown[]).forEach((p, i) => {
      const e = p as { name?: unknown; shape?: unknown } | null;
      if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        bad(`params[${i}] is not {name: string, shape: [non-negative integers]}`);
      }
    });
  }
  return m as unknown as CheckpointManifest;
}

/** Load a checkpoint folder (falling back to `<dir>.old` if a save was interrupted mid-rename). */
export async function loadCheckpoint(dir: string): Promise<{ manifest: CheckpointManifest; params: Float32Array; momentum: Float32Array | null }> {
  const base = existsSync(join(dir, 'manifest.json')) ? dir : existsSync(join(`${dir}.old`, 'manifest.json')) ? `${dir}.old` : null;
  if (!base) throw new EmsegError('EMSEG_FILE_READ', `${dir}: no checkpoint (manifest.json missing)`, { file: dir });
  const file = join(base, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: not a valid checkpoint manifest: ${(e as Error).message}`, { file: base });
  }
  const manifest = checkManifest(parsed, file);
  const params = await readFloats(join(base, 'params.bin'), manifest.paramCount);
  const momentum = existsSync(join(base, 'momentum.bin')) ? await readFloats(join(base, 'momentum.bin'), manifest.paramCount) : null;
  return { manifest, params, momentum };
}
