// `npm run bench -- cli-startup`: wall time and peak memory of `emseg --help`, `emseg info --help` and
// an SDK import (dist/, the installed form), each the median of N runs, beside `node -e 0` (Node's own
// start-up on this machine). The CLI loads a command's modules only when that command runs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];

function measure(args: string[], runs = 15): { ms: number; rssMB: number } {
  const times: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { encoding: 'utf8', cwd: root });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    rss.push(Number(r.stderr.trim().split('\n').pop()) / 1024);
  }
  return { ms: Math.round(median(times)), rssMB: Math.round(median(rss)) };
}

export async function benchCliStartup(): Promise<Record<string, number | string>> {
  const node = measure(['-e', '0']);
  const help = measure([join(root, 'dist/cli/emseg.js'), '--help']);
  const info = measure([join(root, 'dist/cli/emseg.js'), 'info', '--help']);
  const sdk = measure(['--input-type=module', '-e', `await import(${JSON.stringify(join(root, 'dist/sdk-node/index.js'))})`]);
  return {
    bench: 'cli-startup',
    nodeMs: node.ms, nodeRssMB: node.rssMB,
    helpMs: help.ms, helpRssMB: help.rssMB,
    infoHelpMs: info.ms, infoHelpRssMB: info.rssMB,
    sdkImportMs: sdk.ms, sdkImportRssMB: sdk.rssMB,
  };
}
