import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EmsegError } from '../../core/errors.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { DEFAULT_TRAIN } from '../../training/train.ts';
import { drawTrial, mergeTune, tune } from '../../training/tune.ts';

/** `emseg tune` on 2 tiny images: trials run and are scored, the table and best config are written, a rerun resumes. */
const dir = mkdtempSync(join(tmpdir(), 'emseg-tune-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('random-search tuning', () => {
  it('draws trial settings deterministically from (seed, trial) and inside the documented ranges', () => {
    assert.deepEqual(drawTrial(3, 5, 400), drawTrial(3, 5, 400));
    assert.notDeepEqual(drawTrial(3, 5, 400), drawTrial(3, 6, 400));
    for (let k = 0; k < 50; k++) {
      const s = drawTrial(1, k, 400);
      assert.ok(s.lr >= 0.003 && s.lr <= 0.03, `lr ${s.lr}`);
      assert.ok([200, 300, 400].includes(s.steps));
      assert.ok(s.augmentStrength >= 0 && s.augmentStrength <= 1.5);
    }
  });

  it('runs trials, writes results.md and best-config.json, and resumes', async () => {
    await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 4, size: 256, out: join(dir, 'data'), haadf: { count: [6, 8] } });
    const ann = join(dir, 'data', 'annotations.json');
    const out = join(dir, 'tune');
    const options = {
      base: { ...DEFAULT_TRAIN, task: 'rotated-detection' as const, train: ann, val: ann, seed: 0, backend: 'wasm' as const, workers: 1 as const, logPeriod: 1 },
      out, trials: 2, maxSteps: 3, seed: 7,
    };
    const first = await tune(options);
    assert.equal(first.results.length, 2);
    for (const r of first.results) {
      assert.ok(r.AP >= 0 && r.AP <= 1, `trial ${r.trial} scored on validation: AP ${r.AP}`);
      assert.ok(existsSync(join(out, `trial-${r.trial}`, 'checkpoints', 'best', 'manifest.json')));
      // The trial trained with its drawn settings.
      const cfg = JSON.parse(readFileSync(join(out, `trial-${r.trial}`, 'config.json'), 'utf8')) as { lr: number; config: { anchorRatios: number[]; rpn: { preNmsTopKTest: number } } };
      assert.equal(cfg.lr, r.settings.lr);
      assert.deepEqual(cfg.config.anchorRatios, r.settings.anchorRatios);
      assert.equal(cfg.config.rpn.preNmsTopKTest, 1000, 'nested settings completed from the defaults');
    }
    const table = readFileSync(join(out, 'results.md'), 'utf8').trim().split('\n');
    assert.equal(table.length, 4, 'header, rule and one row per trial');
    const best = JSON.parse(readFileSync(join(out, 'best-config.json'), 'utf8')) as { trial: number; valAP: number };
    assert.equal(best.valAP, Math.max(...first.results.map((r) => r.AP)));
    const lines: string[] = [];
    const again = await tune({ ...options, progress: (l) => lines.push(l) });
    assert.deepEqual(again.results, first.results);
    assert.ok(lines.some((l) => /2 of 2 trials already done/.test(l)));
    assert.ok(!lines.some((l) => /trial \d\/2:/.test(l)), 'no trial ran again');

    // The same search as array tasks (one trial each), then merged: the same scores and best config.
    const arrayOut = join(dir, 'tune-array');
    const one = await tune({ ...options, out: arrayOut, only: 1 });
    assert.deepEqual(one.results.map((r) => r.trial), [1]);
    const partial = await mergeTune(arrayOut);
    assert.deepEqual(partial?.missing, [0]);
    assert.ok(!existsSync(join(arrayOut, 'best-config.json')), 'an incomplete merge writes nothing');
    await tune({ ...options, out: arrayOut, only: 0 });
    const merged = await mergeTune(arrayOut);
    assert.ok(merged);
    assert.deepEqual(merged.missing, []);
    assert.deepEqual(merged.results.map((r) => [r.trial, r.AP, r.AP50]), first.results.map((r) => [r.trial, r.AP, r.AP50]), 'deterministic trials: the same scores');
    assert.equal(readFileSync(join(arrayOut, 'best-config.json'), 'utf8'), readFileSync(join(out, 'best-config.json'), 'utf8'));
    await assert.rejects(tune({ ...options, out: arrayOut, seed: 8, only: 0 }), /holds a search with another seed/);
    assert.equal(await mergeTune(join(dir, 'data')), null, 'not a tune folder');
    // A damaged manifest: a typed error naming the file, not a SyntaxError.
    writeFileSync(join(arrayOut, 'tune-manifest.json'), '{"format": "emseg-tune-man');
    await assert.rejects(mergeTune(arrayOut), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FORMAT_BAD_HEADER' && e.message.includes('tune-manifest.json'));
  });
});
