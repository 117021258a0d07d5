import { readFile } from 'node:fs/promises';
import { EmsegError } from '../core/errors.ts';

/** Read a text file; a missing or unreadable file is an EmsegError that names it and says why. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EISDIR' ? 'is a directory, expected a file' :
      code === 'EACCES' ? 'permission denied' :
      (e as Error).message;
    throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: ${why}`, { file: path, cause: e });
  }
}
