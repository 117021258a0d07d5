import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ZooEntry, type ZooTable, looksLikeZooName, parseZooTable, zooEntry } from '../core/inference/zoo.ts';

/** model-zoo/ on disk (core/inference/zoo.ts reads the table). */
export type { ZooEntry };

export function zooDir(): string {
  // Source (sdk-node/) and build (dist/sdk-node/) both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'model-zoo', 'zoo.json'))) return join(dir, 'model-zoo');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'model-zoo');
}

export function readZoo(): ZooTable {
  const path = join(zooDir(), 'zoo.json');
  return existsSync(path) ? parseZooTable(readFileSync(path, 'utf8'), path) : {};
}

/** A zoo name as its model file and classes; null for anything that looks like a path. */
export function resolveZooModel(name: string): { file: string; classes?: string[] } | null {
  if (!looksLikeZooName(name) || existsSync(name)) return null;
  const entry = zooEntry(readZoo(), name);
  return { file: resolve(zooDir(), entry.file), ...(entry.classes ? { classes: entry.classes } : {}) };
}
