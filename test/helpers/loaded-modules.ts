import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Run `node ARGS` with an ESM resolve hook that logs every module URL the process resolves: what a
 * command or an import loads (tfjs? the exporter?), observed rather than inferred from the sources.
 */
export function loadedModules(args: string[]): { status: number | null; urls: string[]; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'emseg-load-'));
  writeFileSync(join(dir, 'hooks.mjs'), "import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.EMSEG_LOAD_LOG, r.url + '\\n'); return r; }\n");
  writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const log = join(dir, 'loaded.txt');
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, EMSEG_LOAD_LOG: log } });
  return { status: r.status, urls: readFileSync(log, 'utf8').trim().split('\n'), stdout: r.stdout, stderr: r.stderr };
}
