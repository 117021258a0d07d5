import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EmsegError } from '../core/errors.ts';

/**
 * `write` fills a temporary file beside `path`, which is then renamed to it: a reader (or a resumed
 * run) sees either the old file or the complete new one, never a half-written file, even after
 * kill -9. On failure the temporary file is removed and the error is EMSEG_FILE_WRITE.
 */
async function writeAtomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await write(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new EmsegError('EMSEG_FILE_WRITE', `${path}: cannot write: ${(e as Error).message}`, { file: path, cause: e });
  }
}

/** Write a file atomically (see `writeAtomically`). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeAtomically(path, (tmp) => writeFile(tmp, data));
}

/**
 * `writeFileAtomic` for output too large for one string (V8 caps strings at ~512 MB: the COCO file of
 * 10 000 analysed images with masks is already larger): the chunks are written as they come, in
 * ~1 MB batches, to the temporary file, which is then renamed.
 */
export async function writeChunksAtomic(path: string, chunks: Iterable<string>): Promise<void> {
  await writeAtomically(path, async (tmp) => {
    const file = await open(tmp, 'w');
    try {
      let batch: string[] = [];
      let size = 0;
      for (const c of chunks) {
        batch.push(c);
        size += c.length;
        if (size >= 1 << 20) {
          await file.write(batch.join(''));
          batch = [];
          size = 0;
        }
      }
      if (batch.length > 0) await file.write(batch.join(''));
    } finally {
      await file.close();
    }
  });
}
