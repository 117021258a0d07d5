import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type TargetSummary, fuzzTarget } from './run-fuzz.ts';
import { TARGETS } from './targets.ts';

/**
 * A seeded fuzz run of every parser and loader (test/fuzz/targets.ts), a few hundred inputs each
 * (a few dozen for the ONNX Runtime one): every input must parse or be refused with an EmsegError
 * code, never another exception, never a hang (60 s without progress), never a crash of the worker,
 * never more than 1 GiB for one input; every error message names the file. Fixed seed: the same inputs on every run. The long run is
 * `npm run fuzz` (docs/fuzzing.md); a failing input's replay file is named in the assertion message.
 */

const SEED = 20;
const out = mkdtempSync(join(tmpdir(), 'emseg-fuzz-test-'));
after(() => rmSync(out, { recursive: true, force: true }));

function report(s: TargetSummary): string {
  const lines = [...s.failures.map((f) => `failure #${f.index} (${f.inputSeed}): ${f.type}: ${f.message}; replay: ${f.replay}`), ...s.hangs.map((h) => `hang #${h.index}: ${h.message}; replay: ${h.replay}`), ...s.crashes.map((c) => `crash #${c.index}: ${c.message}; replay: ${c.replay}`), ...s.overMemory.map((m) => `over the memory bound #${m.index} (${m.inputSeed}): ${m.message}`)];
  return lines.slice(0, 10).join('\n');
}

describe('fuzzing: every input parses or is an EmsegError with a code', () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${target.testCount} mutated inputs (seed ${SEED})`, { timeout: 15 * 60_000 }, async () => {
      const s = await fuzzTarget({ target: target.name, count: target.testCount, seed: SEED, outDir: join(out, target.name) });
      assert.equal(s.inputs + s.hangs.length + s.crashes.length, target.testCount, 'every input ran');
      assert.equal(s.failures.length, 0, report(s));
      assert.equal(s.hangs.length, 0, report(s));
      assert.equal(s.crashes.length, 0, report(s));
      assert.equal(s.overMemory.length, 0, report(s));
      assert.equal(s.unnamed, 0, `EmsegErrors whose message does not name the file:\n${s.unnamedExamples.join('\n')}`);
      // The mutations reach both sides: some inputs still parse, others are refused.
      assert.ok(s.parsed > 0, `${target.name}: no input parsed`);
      assert.ok(Object.keys(s.errors).length > 0, `${target.name}: no input was refused`);
    });
  }
});
