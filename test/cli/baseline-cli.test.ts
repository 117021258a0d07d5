import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runEmsegAsync } from '../helpers/cli.ts';
import { sharedDir } from '../helpers/fixtures.ts';

const emps = join(sharedDir, 'data', 'emps-train');

/**
 * `emseg baseline` on real EMPS particle images (the traditional floor of docs/training.md): its
 * objects, written with --out, score the same AP through `emseg eval` as it reports; the run is
 * deterministic; a dataset of several categories needs --category.
 */
describe('emseg baseline (Otsu + watershed) on real EMPS images', () => {
  it('reports segm/bbox AP that emseg eval reproduces from its own objects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-baseline-'));
    const names = readFileSync(join(emps, 'train.csv'), 'utf8').trim().split('\n').slice(20, 28).map((n) => `${n.trim()}.png`);
    writeFileSync(join(dir, 'list.txt'), names.join('\n'));
    const ann = join(dir, 'ann.json');
    const c = await runEmsegAsync('convert', 'labelmap', '--images', join(emps, 'images'), '--masks', join(emps, 'segmaps'), '--only', join(dir, 'list.txt'), '--category', 'particle', '--out', ann);
    assert.equal(c.status, 0, c.stderr);
    const dt = join(dir, 'dt.json');
    const [a, b] = await Promise.all([runEmsegAsync('baseline', '--data', ann, '--json', '--out', dt), runEmsegAsync('baseline', '--data', ann, '--json')]);
    assert.equal(a.status, 0, a.stderr);
    const r = JSON.parse(a.stdout) as { images: number; detections: number; segm: { AP: number; AP50: number }; bbox: { AP: number } };
    assert.equal(r.images, 8);
    assert.ok(r.detections > 0 && r.segm.AP >= 0 && r.segm.AP <= 1);
    assert.deepEqual(JSON.parse(b.stdout).segm, r.segm, 'deterministic');
    const e = await runEmsegAsync('eval', '--gt', ann, '--dt', dt, '--iou-type', 'segm', '--max-dets', '300', '--json');
    assert.equal(e.status, 0, e.stderr);
    const stats = (JSON.parse(e.stdout) as { stats: { AP: number; AP50: number } }).stats;
    assert.ok(Math.abs(stats.AP - r.segm.AP) < 1e-12 && Math.abs(stats.AP50 - r.segm.AP50) < 1e-12, `${stats.AP} vs ${r.segm.AP}`);

    const two = join(dir, 'two.json');
    const coco = JSON.parse(readFileSync(ann, 'utf8')) as { categories: { id: number; name: string }[] };
    coco.categories.push({ id: 99, name: 'other' });
    writeFileSync(two, JSON.stringify(coco));
    const amb = await runEmsegAsync('baseline', '--data', two);
    assert.equal(amb.status, 1);
    assert.match(amb.stderr, /2 categories \(particle, other\); name the one to score/);
    const all = await runEmsegAsync('baseline', '--data', two, '--category', '*', '--json');
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout).segm, r.segm, 'an empty extra category changes nothing when all are scored as one');
  });
});
