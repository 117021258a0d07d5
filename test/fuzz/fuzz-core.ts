import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { EmsegError } from '../../core/errors.ts';

/** What the runner and its workers share: messages, outcome classification, input generation, replay files. */

/** Every fuzz input is named so that its name contains this (the runner checks that error messages name the file). */
export const INPUT_NAME = 'fuzz-input';

export interface WorkerArgs {
  target: string;
  /** Run seed: input i of a target is a function of (seed, i) only. */
  seed: number;
  start: number;
  end: number;
  outDir: string;
  /** Only write input `dump` to a replay file (after a hang or crash killed the worker that ran it). */
  dump?: number;
  dumpOutcome?: string;
}

export type Classified =
  | { kind: 'parsed' }
  | { kind: 'emseg'; code: string; named: boolean; message: string }
  | { kind: 'failure'; type: string; message: string; stack: string };

export type WorkerMessage =
  | { t: 'ready'; seeds: number; ms: number }
  | { t: 'start'; i: number }
  | { t: 'done'; i: number; inputSeed: string; outcome: Classified; ms: number; rss: number; arrayBuffers: number; heap: number; replay?: string }
  | { t: 'end'; maxRss: number }
  | { t: 'dumped'; i: number };

/** parsed, an EmsegError with a code (and whether its message names the input), or anything else: a failure. */
export function classify(e: unknown): Classified {
  if (e instanceof EmsegError && typeof e.code === 'string' && e.code.startsWith('EMSEG_')) {
    return { kind: 'emseg', code: e.code, named: e.message.includes(INPUT_NAME), message: e.message.slice(0, 300) };
  }
  const type = e instanceof Error ? e.constructor.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  const stack = e instanceof Error ? (e.stack ?? '').split('\n').slice(0, 12).join('\n') : '';
  return { kind: 'failure', type, message: message.slice(0, 1000), stack };
}

/** A 32-bit seed for input `index` of a run seeded `seed` (splitmix-like mixing). */
export function inputSeed(seed: number, index: number): number {
  let h = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca77)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) | 0;
}

/** Input `index` of a run: one fast-check sample of the target's arbitrary, seeded by (seed, index). */
export function generateInput<I>(arbitrary: fc.Arbitrary<I>, seed: number, index: number): I {
  return fc.sample(arbitrary, { seed: inputSeed(seed, index), numRuns: 1 })[0];
}

// ---------------------------------------------------------------------------------------------
// Replay files: JSON with byte arrays as base64
// ---------------------------------------------------------------------------------------------

export interface Replay {
  target: string;
  seed: number;
  index: number;
  inputSeed: string;
  outcome: string;
  input: unknown;
}

function encode(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map(encode);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  if (v === undefined) return { $undefined: true };
  return v;
}

function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$bytes === 'string') return new Uint8Array(Buffer.from(o.$bytes, 'base64'));
    if (o.$undefined === true) return undefined;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

/** Writes `<outDir>/<target>-seed<seed>-<index>.json` and returns its path. */
export function writeReplay(outDir: string, r: Replay): string {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${r.target}-seed${r.seed}-${r.index}.json`);
  writeFileSync(path, JSON.stringify({ ...r, input: encode(r.input) }));
  return path;
}

export function readReplay(path: string): Replay {
  const r = JSON.parse(readFileSync(path, 'utf8')) as Replay;
  return { ...r, input: decode(r.input) };
}
