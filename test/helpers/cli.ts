import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './fixtures.ts';

/** The built CLI (`npm test` builds first), the same file `npx emseg` runs. */
export const emsegBin = join(repoRoot, 'dist', 'cli', 'emseg.js');

export function runEmseg(...args: string[]) {
  return spawnSync(process.execPath, [emsegBin, ...args], { encoding: 'utf8' });
}

/** Async variant, so several CLI runs in one test file do not block the event loop. */
export function runEmsegAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [emsegBin, ...args]);
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
