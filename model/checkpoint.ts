import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmsegError } from '../core/errors.ts';

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

export async function saveCheckpoint(dir: string, manifest: CheckpointManifest, params: Float32Array, momentum?: Float32Array): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'params.bin'), new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
  if (momentum) await writeFile(join(tmp, 'momentum.bin'), new Uint8Array(momentum.buffer, momentum.byteOffset, momentum.byteLength));
  await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

async function readFloats(path: string, expected: number): Promise<Float32Array> {
  const bytes = await readFile(path);
  if (bytes.byteLength !== expected * 4) {
    throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${path}: holds ${bytes.byteLength} bytes, the manifest declares ${expected} float32 values (${expected * 4} bytes)`, { file: path });
  }
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Load a checkpoint folder (falling back to `<dir>.old` if a save was interrupted mid-rename). */
export async function loadCheckpoint(dir: string): Promise<{ manifest: CheckpointManifest; params: Float32Array; momentum: Float32Array | null }> {
  const base = existsSync(join(dir, 'manifest.json')) ? dir : existsSync(join(`${dir}.old`, 'manifest.json')) ? `${dir}.old` : null;
  if (!base) throw new EmsegError('EMSEG_FILE_READ', `${dir}: no checkpoint (manifest.json missing)`, { file: dir });
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await readFile(join(base, 'manifest.json'), 'utf8')) as CheckpointManifest;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${join(base, 'manifest.json')}: not a valid checkpoint manifest: ${(e as Error).message}`, { file: base });
  }
  if (manifest.format !== 'emseg-checkpoint-1' || !Number.isInteger(manifest.paramCount)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${join(base, 'manifest.json')}: not an emseg checkpoint (format ${JSON.stringify(manifest.format)})`, { file: base });
  }
  const params = await readFloats(join(base, 'params.bin'), manifest.paramCount);
  const momentum = existsSync(join(base, 'momentum.bin')) ? await readFloats(join(base, 'momentum.bin'), manifest.paramCount) : null;
  return { manifest, params, momentum };
}
