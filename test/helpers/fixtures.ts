import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Shared read-only data beside the repository (`../shared`), as CI lays it out. */
export const sharedDir = join(repoRoot, '..', 'shared');
export const cocoFixtureDir = join(sharedDir, 'fixtures', 'coco-eval');

export function cocoFixture(name: string): string {
  const path = join(cocoFixtureDir, name);
  if (!existsSync(path)) throw new Error(`reference fixture missing: ${path} (tests need ../shared beside the repository)`);
  return path;
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export { seededRandom } from '../../core/random.ts';

/** One case of rotated_nms_cases.json: boxes, scores and the reference keep list per threshold. */
export interface RotatedNmsCase {
  name: string;
  boxes: [number, number, number, number, number][];
  scores: number[];
  iou_thresholds: number[];
  keep: Record<string, number[]>;
}
