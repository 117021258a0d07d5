import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Classified, type WorkerArgs, type WorkerMessage, classify, generateInput, readReplay } from './fuzz-core.ts';
import { TARGETS, targetByName } from './targets.ts';

/**
 * The fuzz runner. For one target it runs inputs [0, count) of a seeded run in a worker thread (a
 * child process for targets that load native runtimes which could take the process down), the
 * worker announcing each index before it runs it. The parent records every outcome and watches:
 * - no progress for `hangMs` -> the worker is terminated, the input is recorded as a HANG (target,
 *   seed, index, and a replay file written by a fresh worker), and a new worker goes on after it;
 * - the worker exits (native crash, V8 heap limit) -> the input is recorded as a CRASH, likewise.
 * An outcome is `parsed`, an EmsegError code, or a FAILURE (any other exception: its type, message
 * and a replay file). Memory per input: process.memoryUsage() after minus before the call, with a
 * scavenge before it and a full GC every 50 inputs (rss, and arrayBuffers: the typed-array memory
 * allocated by the call and still unreclaimed when it returns, i.e. its peak unless V8 collected
 * during the call); the worker's peak RSS over the run is reported too. An input whose delta passes
 * 1 GiB is recorded as over the memory bound; the V8 heap of a worker is capped at 2 GiB (beyond: a
 * crash).
 *
 *   node --import tsx test/fuzz/run-fuzz.ts --all [--count N] [--count-detector N] [--seed S] [--jobs J] [--out DIR]
 *   (--count sets every target's count but the costly one's, `detector`, whose default is its longCount)
 *   node --import tsx test/fuzz/run-fuzz.ts --target dm,tiff --count 500
 *   node --import tsx test/fuzz/run-fuzz.ts --list                  (the targets and what each fuzzes)
 *   node --import tsx test/fuzz/run-fuzz.ts --replay FILE           (run one saved input here, with its stack)
 *   node --import tsx test/fuzz/run-fuzz.ts --target dm --index 17 [--seed S]   (regenerate input 17 and run it)
 */

const here = fileURLToPath(new URL('.', import.meta.url));
const WORKER_ENTRY = join(here, 'fuzz-worker.ts');
const BOOTSTRAP = join(here, '..', '..', 'sdk-node', 'worker-bootstrap.mjs');
/** V8 heap limit of a worker (MB): a runaway allocation ends as a crash, not as a machine out of memory. */
const HEAP_LIMIT_MB = 2048;

export interface FuzzRunOptions {
  target: string;
  count: number;
  seed: number;
  /** No progress for this long (ms) is a hang (default 60 s). */
  hangMs?: number;
  /** Seeds + setup of a worker may take this long (default 5 min). */
  setupMs?: number;
  outDir: string;
  /** An input whose memory delta (rss or arrayBuffers) exceeds this is recorded as over the memory bound (default 1 GiB). */
  memoryLimit?: number;
  /** Called after each input (progress display). */
  onInput?: (done: number, count: number) => void;
}

export interface Incident {
  index: number;
  inputSeed?: string;
  type?: string;
  message?: string;
  replay?: string;
}

export interface TargetSummary {
  target: string;
  isolation: 'worker' | 'child';
  seed: number;
  seeds: number;
  inputs: number;
  parsed: number;
  errors: Record<string, number>;
  /** EmsegErrors whose message does not name the input file. */
  unnamed: number;
  unnamedExamples: string[];
  failures: Incident[];
  hangs: Incident[];
  crashes: Incident[];
  /** Inputs whose memory delta exceeded the bound (memoryLimit). */
  overMemory: Incident[];
  maxMs: number;
  maxMsInput: Incident | null;
  meanMs: number;
  maxRssDelta: number;
  maxArrayBuffersDelta: number;
  maxMemoryInput: Incident | null;
  /** Peak RSS of the worker's process over the run (threads share the parent's). */
  peakRss: number;
  seconds: number;
}

interface Host {
  onMessage(fn: (m: WorkerMessage) => void): void;
  onExit(fn: (code: number | null, why: string) => void): void;
  kill(): void;
}

function startHost(isolation: 'worker' | 'child', args: WorkerArgs, stderrTail: string[]): Host {
  const keep = (chunk: Buffer | string) => {
    stderrTail.push(String(chunk));
    while (stderrTail.length > 20) stderrTail.shift();
  };
  if (isolation === 'worker') {
    const w = new Worker(BOOTSTRAP, { workerData: { entry: WORKER_ENTRY, args }, resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB }, stdout: true, stderr: true });
    // HDF5 prints its C error stack for corrupt files: kept (last lines) for crash reports only.
    w.stdout.on('data', keep);
    w.stderr.on('data', keep);
    return {
      onMessage: (fn) => w.on('message', fn),
      onExit: (fn) => {
        let error = '';
        w.on('error', (e) => { error = `${e.constructor.name}: ${e.message}`; });
        w.on('exit', (code) => fn(code, error));
      },
      kill: () => void w.terminate(),
    };
  }
  const c: ChildProcess = fork(WORKER_ENTRY, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx', `--max-old-space-size=${HEAP_LIMIT_MB}`],
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  c.stdout?.on('data', keep);
  c.stderr?.on('data', keep);
  return {
    onMessage: (fn) => c.on('message', (m) => fn(m as WorkerMessage)),
    onExit: (fn) => c.on('exit', (code, signal) => fn(code, signal ? `signal ${signal}` : '')),
    kill: () => void c.kill('SIGKILL'),
  };
}

/** Runs one worker over [start, end); resolves with where it stopped and why. */
function runSegment(
  isolation: 'worker' | 'child',
  args: WorkerArgs,
  o: { hangMs: number; setupMs: number },
  on: { ready(seeds: number): void; done(m: Extract<WorkerMessage, { t: 'done' }>): void; end(maxRss: number): void },
): Promise<{ stopped: 'end' | 'hang' | 'crash'; index: number; why: string }> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const host = startHost(isolation, args, tail);
    let current = -1;
    let ready = false;
    let last = Date.now();
    let settled = false;
    const finish = (r: { stopped: 'end' | 'hang' | 'crash'; index: number; why: string }) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve(r);
    };
    const watchdog = setInterval(() => {
      const limit = ready ? o.hangMs : o.setupMs;
      if (Date.now() - last > limit) {
        host.kill();
        finish({ stopped: ready ? 'hang' : 'crash', index: current, why: ready ? `no progress for ${limit} ms` : `worker setup took more than ${limit} ms` });
      }
    }, Math.min(1000, o.hangMs / 4));
    host.onMessage((m) => {
      last = Date.now();
      if (m.t === 'ready') {
        ready = true;
        on.ready(m.seeds);
      } else if (m.t === 'start') current = m.i;
      else if (m.t === 'done') {
        on.done(m);
        current = -1;
      } else if (m.t === 'end') {
        on.end(m.maxRss);
        finish({ stopped: 'end', index: args.end, why: '' });
      } else if (m.t === 'dumped') finish({ stopped: 'end', index: m.i, why: '' });
    });
    host.onExit((code, why) => {
      const text = tail.join('').split('\n').filter(Boolean).slice(-6).join(' | ');
      finish({ stopped: 'crash', index: current, why: `worker exited (code ${code}${why ? `, ${why}` : ''})${text ? `: ${text.slice(-600)}` : ''}` });
    });
  });
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);

/** Fuzzes one target: `count` inputs of run `seed`, in a worker (restarted after a hang or crash). */
export async function fuzzTarget(opts: FuzzRunOptions): Promise<TargetSummary> {
  const target = targetByName(opts.target);
  const hangMs = opts.hangMs ?? 60_000;
  const setupMs = opts.setupMs ?? 300_000;
  const memoryLimit = opts.memoryLimit ?? 2 ** 30;
  const t0 = performance.now();
  const s: TargetSummary = {
    target: target.name, isolation: target.isolation, seed: opts.seed, seeds: 0, inputs: 0, parsed: 0, errors: {}, unnamed: 0, unnamedExamples: [],
    failures: [], hangs: [], crashes: [], overMemory: [], maxMs: 0, maxMsInput: null, meanMs: 0, maxRssDelta: 0, maxArrayBuffersDelta: 0, maxMemoryInput: null, peakRss: 0, seconds: 0,
  };
  let totalMs = 0;
  let next = 0;
  const killed: { kind: 'hang' | 'crash'; index: number; why: string }[] = [];
  while (next < opts.count) {
    const args: WorkerArgs = { target: target.name, seed: opts.seed, start: next, end: opts.count, outDir: opts.outDir };
    const r = await runSegment(target.isolation, args, { hangMs, setupMs }, {
      ready: (n) => { s.seeds = n; },
      done: (m) => {
        s.inputs++;
        totalMs += m.ms;
        const out: Classified = m.outcome;
        if (out.kind === 'parsed') s.parsed++;
        else if (out.kind === 'emseg') {
          s.errors[out.code] = (s.errors[out.code] ?? 0) + 1;
          if (!out.named) {
            s.unnamed++;
            if (s.unnamedExamples.length < 5) s.unnamedExamples.push(`#${m.i} ${out.code}: ${out.message}`);
          }
        } else s.failures.push({ index: m.i, inputSeed: m.inputSeed, type: out.type, message: out.message, replay: m.replay });
        if (m.ms > s.maxMs) {
          s.maxMs = m.ms;
          s.maxMsInput = { index: m.i, inputSeed: m.inputSeed };
        }
        if (m.arrayBuffers > s.maxArrayBuffersDelta) {
          s.maxArrayBuffersDelta = m.arrayBuffers;
          s.maxMemoryInput = { index: m.i, inputSeed: m.inputSeed };
        }
        s.maxRssDelta = Math.max(s.maxRssDelta, m.rss);
        if (Math.max(m.rss, m.arrayBuffers) > memoryLimit) s.overMemory.push({ index: m.i, inputSeed: m.inputSeed, message: `rss +${mb(m.rss)} MB, arrayBuffers +${mb(m.arrayBuffers)} MB` });
        next = m.i + 1;
        opts.onInput?.(s.inputs + s.hangs.length + s.crashes.length, opts.count);
      },
      end: (maxRss) => { s.peakRss = Math.max(s.peakRss, maxRss); },
    });
    if (r.stopped === 'end') break;
    if (r.index < 0) {
      // Died outside an input (setup): nothing to skip; give up rather than loop.
      s.crashes.push({ index: next, type: 'setup', message: r.why });
      break;
    }
    killed.push({ kind: r.stopped, index: r.index, why: r.why });
    (r.stopped === 'hang' ? s.hangs : s.crashes).push({ index: r.index, message: r.why });
    next = r.index + 1;
    opts.onInput?.(s.inputs + s.hangs.length + s.crashes.length, opts.count);
  }
  // Replay files for the inputs that took a worker down, written by a fresh worker (generation only).
  for (const k of killed) {
    const incident = [...s.hangs, ...s.crashes].find((x) => x.index === k.index);
    const r = await runSegment(target.isolation, { target: target.name, seed: opts.seed, start: 0, end: 0, outDir: opts.outDir, dump: k.index, dumpOutcome: `${k.kind}: ${k.why}` }, { hangMs: setupMs, setupMs }, { ready: () => {}, done: () => {}, end: () => {} });
    if (incident && r.stopped === 'end') incident.replay = join(opts.outDir, `${target.name}-seed${opts.seed}-${k.index}.json`);
  }
  s.meanMs = s.inputs ? totalMs / s.inputs : 0;
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

export function summaryTable(list: TargetSummary[]): string {
  const rows = list.map((s) => [
    s.target,
    String(s.inputs + s.hangs.length + s.crashes.length),
    String(s.parsed),
    Object.entries(s.errors).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c.replace(/^EMSEG_/, '')} ${n}`).join(', ') || '-',
    String(s.failures.length),
    String(s.crashes.length),
    String(s.hangs.length),
    String(s.overMemory.length),
    `${s.maxMs.toFixed(0)} ms`,
    `${s.meanMs.toFixed(1)} ms`,
    `${mb(s.maxArrayBuffersDelta)} MB`,
    `${mb(s.maxRssDelta)} MB`,
    `${mb(s.peakRss)} MB`,
    `${s.seconds.toFixed(0)} s`,
  ]);
  const head = ['target', 'inputs', 'parsed', 'EmsegError by code', 'failures', 'crashes', 'hangs', 'over 1 GiB', 'max time', 'mean time', 'max arrayBuffers', 'max rss delta', 'peak rss', 'wall'];
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function describeIncidents(s: TargetSummary): string[] {
  const out: string[] = [];
  for (const [label, list] of [['FAILURE', s.failures], ['HANG', s.hangs], ['CRASH', s.crashes], ['OVER MEMORY', s.overMemory]] as const) {
    for (const x of list.slice(0, 10)) out.push(`  ${label} ${s.target} #${x.index}${x.inputSeed ? ` (seed file ${x.inputSeed})` : ''}: ${x.type ? `${x.type}: ` : ''}${x.message ?? ''}${x.replay ? `\n    replay: node --import tsx test/fuzz/run-fuzz.ts --replay ${x.replay}` : ''}`);
    if (list.length > 10) out.push(`  ... and ${list.length - 10} more ${label}s`);
  }
  for (const u of s.unnamedExamples) out.push(`  unnamed error (message does not name the file): ${u}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function parseArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) m.set(a.slice(2), 'true');
    else {
      m.set(a.slice(2), next);
      i++;
    }
  }
  return m;
}

async function replay(path: string | null, targetName: string | null, index: number | null, seed: number): Promise<number> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const r = path ? readReplay(path) : null;
  const target = targetByName(r?.target ?? (targetName as string));
  const seeds = await target.seeds();
  const input = r ? r.input : generateInput(target.mutate(seeds), seed, index as number);
  const dir = mkdtempSync(join(tmpdir(), 'emseg-fuzz-replay-'));
  console.log(`${target.name}: input ${r ? `${r.index} of seed ${r.seed} (${r.inputSeed}; recorded outcome: ${r.outcome})` : `${index} of seed ${seed}`}`);
  const t = performance.now();
  try {
    await target.run(input, { dir });
    console.log(`parsed (${(performance.now() - t).toFixed(0)} ms)`);
    return 0;
  } catch (e) {
    const c = classify(e);
    console.log(`${c.kind === 'emseg' ? `EmsegError ${c.code}` : 'FAILURE'} (${(performance.now() - t).toFixed(0)} ms)`);
    console.log(e instanceof Error ? e.stack : String(e));
    return c.kind === 'failure' ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const seed = Number(a.get('seed') ?? 1);
  if (a.has('list')) {
    for (const t of TARGETS) console.log(`${t.name} (${t.isolation}; CI ${t.testCount}, long ${t.longCount}): ${t.what}`);
    return 0;
  }
  if (a.has('replay')) return replay(a.get('replay') as string, null, null, seed);
  if (a.has('index')) return replay(null, a.get('target') as string, Number(a.get('index')), seed);
  const names = a.has('all') ? TARGETS.map((t) => t.name) : (a.get('target') ?? '').split(',').filter(Boolean);
  if (names.length === 0) throw new Error('give --all or --target NAME[,NAME...] (targets: ' + TARGETS.map((t) => t.name).join(', ') + ')');
  const count = a.has('count') ? Number(a.get('count')) : null;
  const jobs = Math.max(1, Number(a.get('jobs') ?? 1));
  const hangMs = Number(a.get('hang-ms') ?? 60_000);
  const outDir = a.get('out') ?? join(tmpdir(), `emseg-fuzz-seed${seed}`);
  mkdirSync(outDir, { recursive: true });
  const queue = names.map(targetByName);
  const results: TargetSummary[] = [];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      // --count-<target> N, else --count N (not for costly targets: ONNX Runtime sessions), else the target's own.
      const own = a.get(`count-${t.name}`);
      const n = own !== undefined ? Number(own) : count !== null && !t.costly ? count : t.longCount;
      let lastPrint = 0;
      const s = await fuzzTarget({
        target: t.name, count: n, seed, hangMs, outDir,
        onInput: (done, total) => {
          if (Date.now() - lastPrint > 30_000) {
            lastPrint = Date.now();
            console.error(`  ${t.name}: ${done}/${total}`);
          }
        },
      });
      results.push(s);
      console.log(`${s.target}: ${s.inputs + s.hangs.length + s.crashes.length} inputs, ${s.failures.length} failures, ${s.hangs.length} hangs, ${s.crashes.length} crashes, ${s.overMemory.length} over the memory bound (${s.seconds.toFixed(0)} s)`);
      for (const line of describeIncidents(s)) console.log(line);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  results.sort((x, y) => names.indexOf(x.target) - names.indexOf(y.target));
  const table = summaryTable(results);
  console.log(`\n${table}\n`);
  const meta = { seed, node: process.version, date: new Date().toISOString(), hangMs, heapLimitMb: HEAP_LIMIT_MB };
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify({ ...meta, targets: results }, null, 1)}\n`);
  writeFileSync(join(outDir, 'summary.md'), `Fuzz run, seed ${seed}, ${meta.date}, Node ${meta.node}\n\n${table}\n`);
  console.log(`summary: ${join(outDir, 'summary.json')} and summary.md; failing inputs (if any) in ${outDir}`);
  const bad = results.reduce((n, s) => n + s.failures.length + s.hangs.length + s.crashes.length + s.overMemory.length, 0);
  return bad === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((code) => { process.exitCode = code; }, (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 2;
  });
}
