import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { type Classified, type WorkerArgs, type WorkerMessage, classify, generateInput, writeReplay } from './fuzz-core.ts';
import { targetByName } from './targets.ts';

/**
 * One fuzzing worker: a worker thread (workerData) or a child process (argv[2], JSON), started by
 * run-fuzz.ts. It builds the target's seeds, then for each index in [start, end) reports the index
 * BEFORE running it (so the parent can name the input that hangs or kills the worker), runs it and
 * reports its outcome, time and memory. In `dump` mode it only writes input `dump` to a replay file.
 */

const args: WorkerArgs = parentPort ? (workerData as { args: WorkerArgs }).args : (JSON.parse(process.argv[2]) as WorkerArgs);

async function send(m: WorkerMessage): Promise<void> {
  if (parentPort) {
    parentPort.postMessage(m);
    return;
  }
  // A child process may die right after sending: wait until the message has left.
  await new Promise<void>((resolve, reject) => process.send?.(m, undefined, {}, (e) => (e ? reject(e) : resolve())));
}

/**
 * Garbage collection between inputs: a scavenge before each (cheap; frees the previous input's
 * young objects and buffers, so a collection is unlikely to run inside the next call and hide its
 * allocations) and a full collection every FULL_GC_EVERY inputs (a full one costs 30-60 ms).
 */
const FULL_GC_EVERY = 50;
function gcFunction(): ((full: boolean) => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    return (full) => gc({ type: full ? 'major' : 'minor' });
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const target = targetByName(args.target);
  const t0 = performance.now();
  const seeds = await target.seeds();
  const arbitrary = target.mutate(seeds);
  if (args.dump !== undefined) {
    const input = generateInput(arbitrary, args.seed, args.dump);
    writeReplay(args.outDir, { target: args.target, seed: args.seed, index: args.dump, inputSeed: input.seed, outcome: args.dumpOutcome ?? 'unknown', input });
    await send({ t: 'dumped', i: args.dump });
    return;
  }
  const gc = gcFunction();
  const dir = mkdtempSync(join(tmpdir(), `emseg-fuzz-${args.target}-`));
  // Warm-up (untimed, outcome ignored): the modules a target imports lazily (sharp, h5wasm, ONNX
  // Runtime) load here, not in the first input's time and memory.
  await target.run(generateInput(arbitrary, args.seed, -1), { dir }).catch(() => undefined);
  await send({ t: 'ready', seeds: seeds.length, ms: performance.now() - t0 });
  try {
    for (let i = args.start; i < args.end; i++) {
      await send({ t: 'start', i });
      const input = generateInput(arbitrary, args.seed, i);
      if (gc) gc((i - args.start) % FULL_GC_EVERY === 0);
      const before = process.memoryUsage();
      const t = performance.now();
      let outcome: Classified;
      try {
        await target.run(input, { dir });
        outcome = { kind: 'parsed' };
      } catch (e) {
        outcome = classify(e);
      }
      const ms = performance.now() - t;
      const after = process.memoryUsage();
      let replay: string | undefined;
      if (outcome.kind === 'failure') {
        replay = writeReplay(args.outDir, { target: args.target, seed: args.seed, index: i, inputSeed: input.seed, outcome: `${outcome.type}: ${outcome.message}`, input });
      }
      await send({
        t: 'done',
        i,
        inputSeed: input.seed,
        outcome,
        ms,
        rss: after.rss - before.rss,
        arrayBuffers: after.arrayBuffers - before.arrayBuffers,
        heap: after.heapUsed - before.heapUsed,
        ...(replay ? { replay } : {}),
      });
    }
    await send({ t: 'end', maxRss: process.resourceUsage().maxRSS * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
if (!parentPort) process.disconnect?.();
