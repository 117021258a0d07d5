import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { glob } from 'tinyglobby';
import { EmsegError } from '../../core/errors.ts';

/** File name extensions `emseg analyze` picks from folders and globs. */
export const IMAGE_EXTENSIONS = ['.tif', '.tiff', '.dm3', '.dm4', '.mrc', '.mrcs', '.map', '.ser', '.emd', '.png', '.jpg', '.jpeg'];

const isImageName = (name: string): boolean => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
const hasGlob = (s: string): boolean => /[*?[\]{}]/.test(s);

/**
 * Files, folders (their image files; subfolders with `recursive`) and globs (tinyglobby) to a list of image
 * paths: in the order given, each folder and glob sorted by name, duplicates dropped. A path that
 * does not exist is kept: analysing it reports the problem for that image and goes on.
 */
export async function expandInputs(inputs: readonly string[], options: { recursive?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  };
  for (const input of inputs) {
    let stats;
    try {
      stats = statSync(input);
    } catch {
      stats = null;
    }
    if (stats?.isDirectory()) {
      const files = (readdirSync(input, { recursive: options.recursive ?? false }) as string[]).filter(isImageName).sort();
      if (files.length === 0) throw new EmsegError('EMSEG_FILE_READ', `${input}: the folder holds no images (${IMAGE_EXTENSIONS.join(' ')})${options.recursive ? '' : '; --recursive looks in subfolders'}`, { file: input });
      for (const f of files) add(join(input, f));
    } else if (!stats && hasGlob(input)) {
      const files = (await glob(input, { onlyFiles: true, expandDirectories: false })).filter(isImageName).sort();
      if (files.length === 0) throw new EmsegError('EMSEG_FILE_READ', `${input}: no image matches this pattern`, { file: input });
      for (const f of files) add(f);
    } else {
      add(input);
    }
  }
  if (out.length === 0) throw new EmsegError('EMSEG_FILE_READ', 'no input images given', {});
  return out;
}
