// `npm run bench`: runs every benchmark and prints one line of results per benchmark.
import { join } from 'node:path';
import { benchAnalyze } from './analyze.bench.ts';
import { benchCliStartup } from './cli-startup.bench.ts';
import { benchDecode } from './decode.bench.ts';
import { benchSegmEval } from './segm-eval.bench.ts';
import { benchShards } from './shards.bench.ts';
import { benchVsTorchvision } from './vs-torchvision.bench.ts';
import { benchWeb } from './web.bench.ts';

const outDir = join(process.cwd(), '.bench-out');
const benches: [string, () => Promise<Record<string, number | string>>][] = [
  ['decode', () => benchDecode(outDir)],
  ['segm-eval', () => benchSegmEval(outDir)],
  ['analyze', () => benchAnalyze(outDir)],
  ['shards', () => benchShards(outDir)],
  ['cli-startup', () => benchCliStartup()],
  ['web', () => benchWeb()],
  ['vs-torchvision', () => benchVsTorchvision(outDir)],
];
const only = process.argv.slice(2);
for (const [name, run] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  const row = await run();
  console.log(JSON.stringify(row));
}
