import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cocoFixture, readJson, repoRoot } from '../helpers/fixtures.ts';

// Runs the built CLI (`npm test` builds first), the same file `npx emseg` runs.
const bin = join(repoRoot, 'dist', 'cli', 'emseg.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('emseg eval', () => {
  it('prints exactly one JSON object with --json, equal to pycocotools within 1e-9', () => {
    const r = run('eval', '--gt', cocoFixture('rbox_rods.gt.json'), '--dt', cocoFixture('rbox_rods.dt.json'), '--iou-type', 'rbox', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const expected = readJson<{ stats: Record<string, number>; perCategoryAP: Record<string, number> }>(cocoFixture('rbox_rods.expected.json'));
    assert.deepEqual(Object.keys(out).sort(), ['iouType', 'perCategoryAP', 'stats']);
    assert.equal(out.iouType, 'rbox');
    for (const [k, v] of Object.entries(expected.stats)) assert.ok(Math.abs(out.stats[k] - v) <= 1e-9, k);
    for (const [k, v] of Object.entries(expected.perCategoryAP)) assert.ok(Math.abs(out.perCategoryAP[k] - v) <= 1e-9, k);
  });

  it('prints a readable table by default', () => {
    const r = run('eval', '--gt', cocoFixture('bbox_basic.gt.json'), '--dt', cocoFixture('bbox_basic.dt.json'), '--iou-type', 'bbox');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Average Precision {2}\(AP\) @\[ IoU=0\.50:0\.95 \| area= {3}all \| maxDets=100 \] = {2}0\.690/);
    assert.match(r.stdout, /large_vesicle\s+1\s+0\.719/);
  });

  it('fails with a clear message, a non-zero exit and no stack trace on bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-eval-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, NaN, 1], "score": 1}]');
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify([{ image_id: 12345, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]));
    const gt = cocoFixture('bbox_basic.gt.json');
    for (const [dt, pattern] of [
      [bad, /bad\.json: invalid JSON .*found NaN/],
      [unknown, /unknown\.json: results\[0\]: field "image_id": expected the id of an image in the ground truth, received 12345/],
      [join(dir, 'missing.json'), /missing\.json: cannot read: no such file/],
    ] as const) {
      const r = run('eval', '--gt', gt, '--dt', dt, '--iou-type', 'bbox');
      assert.equal(r.status, 1);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    }
  });

  it('rejects usage mistakes with exit code 2 and the usage text', () => {
    const r = run('eval', '--gt', 'a.json', '--dt', 'b.json', '--iou-type', 'keypoints');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--iou-type must be one of bbox, segm, rbox/);
    assert.match(r.stderr, /Usage: emseg eval/);
    assert.equal(run('eval', '--gt', 'a.json').status, 2);
    assert.equal(run('frobnicate').status, 2);
    assert.equal(run('eval', '--help').status, 0);
  });
});
