import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmsegError } from '../core/errors.ts';

/**
 * model-zoo/zoo.json: names users pass instead of a file (`new Detector('vesicle-large')`). An
 * entry names a model file (relative to model-zoo/) and optionally the classes it reports: aliases
 * of one multi-class model (vesicle-large is the vesicle model's large_vesicle class).
 */
export interface ZooEntry {
  file: string;
  classes?: string[];
  description?: string;
  card?: string;
}

export function zooDir(): string {
  // Source (sdk-node/) and build (dist/sdk-node/) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'model-zoo', 'zoo.json'))) return join(dir, 'model-zoo');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'model-zoo');
}

export function readZoo(): Record<string, ZooEntry> {
  const path = join(zooDir(), 'zoo.json');
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, ZooEntry>;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${path}: not valid JSON (${(e as Error).message})`, { file: path, cause: e });
  }
}

/** A zoo name as its model file and classes; null for anything that looks like a path. */
export function resolveZooModel(name: string): { file: string; classes?: string[] } | null {
  if (/[\\/]/.test(name) || /\.onnx$/i.test(name) || existsSync(name)) return null;
  const zoo = readZoo();
  const entry = zoo[name];
  if (!entry) {
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: neither a model file nor a zoo model (zoo: ${Object.keys(zoo).join(', ') || 'empty'})`, { file: name });
  }
  return { file: resolve(zooDir(), entry.file), ...(entry.classes ? { classes: entry.classes } : {}) };
}
