import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EmsegError } from '../core/errors.ts';

/**
 * Write a file atomically: to a temporary name beside it, then rename. A reader (or a resumed run)
 * sees either the old file or the complete new one, never a half-written file, even after kill -9.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new EmsegError('EMSEG_FILE_WRITE', `${path}: cannot write: ${(e as Error).message}`, { file: path, cause: e });
  }
}
