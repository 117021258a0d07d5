import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The PyTorch references the benchmarks run beside emseg (bench/*.py): Debian's /usr/bin/python3
 * with python3-torch (and python3-torchvision), never an emseg dependency.
 */
export const PYTHON = '/usr/bin/python3';

/** Why the reference cannot run (what to install), or null when `modules` import. */
export function pythonReferenceMissing(modules: readonly string[], packages: string): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    execFileSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { stdio: 'pipe' });
    return null;
  } catch {
    return `${packages.split(' ').filter((p) => p.startsWith('python3-')).join(' / ')} not installed (apt-get install ${packages})`;
  }
}

/** Run bench/`script` with `args`; its last line of output is one JSON object. */
export function runPythonReference<T>(script: string, args: readonly string[]): T {
  const out = execFileSync(PYTHON, [join(import.meta.dirname, script), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}
