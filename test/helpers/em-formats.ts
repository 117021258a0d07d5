import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmsegError, type EmsegErrorCode } from '../../core/errors.ts';
import { readJson, sharedDir } from './fixtures.ts';

/** The real EM files (`../shared/data/em-formats`) and their MANIFEST.json. */
export const emFormatsDir = join(sharedDir, 'data', 'em-formats');

/** One file of em-formats/MANIFEST.json: the fields the tests read. */
export interface ManifestEntry {
  file: string;
  format: string;
  width: number;
  height: number;
  /** Sections of a stack (MRC). */
  depth?: number;
  dtype: string;
  calibration: {
    x_scale: number | null;
    y_scale: number | null;
    unit: string | null;
    /** Where an axis has its own unit (x in nm, y in Å). */
    x_unit?: string;
    y_unit?: string;
    origin_px?: [number, number];
    z_scale?: number;
    header_voxel_size_angstrom?: number[];
    raw_calibration_delta_si?: number[];
    raw_calibration_offset_si?: number[];
  };
  pixel_checks?: Record<string, unknown>;
}

/** The manifest's entries, those `filter` keeps when given. */
export function manifestEntries(filter?: (entry: ManifestEntry) => boolean): ManifestEntry[] {
  const { files } = readJson<{ files: ManifestEntry[] }>(join(emFormatsDir, 'MANIFEST.json'));
  return filter ? files.filter(filter) : files;
}

/** The bytes of `file` (a path relative to the em-formats folder). */
export function loadFormatFile(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(emFormatsDir, file)));
}

/** Asserts |actual - expected| <= rel * |expected|. */
export function closeRel(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} vs expected ${expected} (rel tol ${rel})`);
}

/** A validator for assert.throws / assert.rejects: an EmsegError with `code` whose message names `name` (and matches `message`). */
export function isEmsegError(code: EmsegErrorCode, name: string, message?: RegExp): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof EmsegError, `expected an EmsegError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(name), `message should name ${name}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

/** Asserts `fn` throws an EmsegError with `code` whose message names `name` (and matches `message`). */
export function expectEmsegError(fn: () => unknown, code: EmsegErrorCode, name: string, message?: RegExp): void {
  assert.throws(fn, isEmsegError(code, name, message));
}

/** Sum, minimum, maximum and count of non-zero values of `data`. */
export function pixelStats(data: ArrayLike<number>): { sum: number; min: number; max: number; nonzero: number } {
  let sum = 0, min = Infinity, max = -Infinity, nonzero = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v !== 0) nonzero++;
  }
  return { sum, min, max, nonzero };
}

export interface FuzzOptions {
  /** Seeds the generator of the byte edits (one sequence over all the files), so every run edits the same bytes. */
  seed: number;
  /** Corrupted copies per file. */
  rounds: number;
  /** Bytes overwritten per copy. */
  edits: number;
  /** Where to overwrite a byte of `copy`, from `rand()`. */
  offset: (r: number, copy: Uint8Array) => number;
  /** Name the reader is given; every error must name it. */
  name: string;
  read: (copy: Uint8Array, round: number) => unknown;
}

/** Reads `rounds` randomly corrupted copies of each of `files`: anything thrown must be an EmsegError naming `name`. */
export function fuzzFormatFiles(files: string[], { seed, rounds, edits, offset, name, read }: FuzzOptions): void {
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const file of files) {
    const bytes = loadFormatFile(file);
    for (let k = 0; k < rounds; k++) {
      const copy = bytes.slice();
      for (let j = 0; j < edits; j++) copy[offset(rand(), copy)] = Math.floor(rand() * 256);
      try {
        read(copy, k);
      } catch (e) {
        assert.ok(e instanceof EmsegError, `non-EmsegError: ${String(e)}`);
        assert.ok(e.message.includes(name));
      }
    }
  }
}

/** A copy of `bytes` after `fn` has edited it through a DataView. */
export function editBytes(bytes: Uint8Array, fn: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  fn(new DataView(copy.buffer));
  return copy;
}
