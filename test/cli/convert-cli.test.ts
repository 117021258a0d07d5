import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runEmseg } from '../helpers/cli.ts';
import { sharedDir } from '../helpers/fixtures.ts';

const emps = join(sharedDir, 'data', 'emps-train');
const deepsem = join(sharedDir, 'data', 'deepsem-nanowires');

/** Turn a dataset's GT into a results file (every object detected perfectly). */
function selfResults(annFile: string, field: 'bbox' | 'segmentation' | 'rbox', out: string): void {
  const ds = JSON.parse(readFileSync(annFile, 'utf8')) as { annotations: Record<string, unknown>[] };
  writeFileSync(out, JSON.stringify(ds.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, [field]: a[field], score: 1 }))));
}

function expectSelfAP1(ann: string, iouType: string, field: 'bbox' | 'segmentation' | 'rbox', dir: string): void {
  const dt = join(dir, `self-${iouType}.json`);
  selfResults(ann, field, dt);
  const r = runEmseg('eval', '--gt', ann, '--dt', dt, '--iou-type', iouType, '--max-dets', '1000', '--json');
  assert.equal(r.status, 0, r.stderr);
  const { stats } = JSON.parse(r.stdout);
  assert.ok(Math.abs(stats.AP - 1) < 1e-9 && Math.abs(stats.AR100 - 1) < 1e-9, `${iouType}: AP ${stats.AP}, AR ${stats.AR100}`);
}

describe('emseg convert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emseg-convert-'));

  it('converts the EMPS rod label maps (masks + rotated boxes) into a dataset that checks and scores AP = 1 against itself', () => {
    const ann = join(dir, 'rods.json');
    const r = runEmseg('convert', 'labelmap', '--images', join(emps, 'images'), '--masks', join(emps, 'segmaps'), '--only', join(emps, 'rodlike_train_images.json'), '--category', 'nanorod', '--rbox', '--out', ann);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /15 images, \d+ annotations, categories nanorod/);
    const check = runEmseg('dataset', 'check', ann);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^OK: .* 15 images/m);
    expectSelfAP1(ann, 'segm', 'segmentation', dir);
    expectSelfAP1(ann, 'rbox', 'rbox', dir);
    const ds = JSON.parse(readFileSync(ann, 'utf8'));
    assert.ok(ds.annotations.every((a: { rbox: number[] }) => a.rbox[2] >= a.rbox[3]), 'rboxes are canonical (w >= h)');
  });

  it('converts the DeepSEM Labelbox export (477 boxes, 3 classes)', () => {
    const ann = join(dir, 'nw.json');
    const r = runEmseg('convert', 'labelbox', join(deepsem, 'labels', 'nw_yield_val.json'), '--images', join(deepsem, 'images'), '--out', ann);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /3 images, 477 annotations, categories nw, parasitic, nanospade/);
    assert.equal(runEmseg('dataset', 'check', ann).status, 0);
    expectSelfAP1(ann, 'bbox', 'bbox', dir);
    // --rbox: the axis-aligned rotated box of every box, for the rotated detector.
    const rb = join(dir, 'nw-rbox.json');
    assert.equal(runEmseg('convert', 'labelbox', join(deepsem, 'labels', 'nw_yield_val.json'), '--images', join(deepsem, 'images'), '--out', rb, '--rbox').status, 0);
    const withR = JSON.parse(readFileSync(rb, 'utf8')) as { annotations: { bbox: number[]; rbox: number[] }[] };
    assert.ok(withR.annotations.every((a) => a.rbox[4] === 0 && a.rbox[0] === a.bbox[0] + a.bbox[2] / 2 && a.rbox[3] === a.bbox[3]));
    expectSelfAP1(rb, 'rbox', 'rbox', dir);
  });

  it('converts roLabelImg XML (rotated boxes) and LabelImg XML', () => {
    const xml = join(dir, 'rods.xml');
    writeFileSync(xml, `<annotation verified="no"><folder>x</folder><filename>rods.png</filename><size><width>200</width><height>150</height><depth>1</depth></size>
      <object><type>robndbox</type><name>nanorod</name><robndbox><cx>60</cx><cy>50</cy><w>70</w><h>12</h><angle>0.35</angle></robndbox></object>
      <object><type>robndbox</type><name>nanorod</name><robndbox><cx>70</cx><cy>60</cy><w>60</w><h>10</h><angle>2.9</angle></robndbox></object>
      <object><type>bndbox</type><name>hole</name><bndbox><xmin>150</xmin><ymin>100</ymin><xmax>170</xmax><ymax>120</ymax></bndbox></object></annotation>`);
    const ann = join(dir, 'xml.json');
    const r = runEmseg('convert', 'voc', xml, '--out', ann);
    assert.equal(r.status, 0, r.stderr);
    const ds = JSON.parse(readFileSync(ann, 'utf8'));
    assert.deepEqual(ds.categories.map((c: { name: string }) => c.name), ['nanorod', 'hole']);
    assert.ok(Math.abs(ds.annotations[0].rbox[4] - (-0.35 * 180) / Math.PI) < 1e-9);
    assert.equal(runEmseg('dataset', 'check', ann).status, 0);
    // Only the rods carry rbox: evaluate them as rbox, the whole file as bbox.
    const rodsOnly = join(dir, 'xml-rods.json');
    writeFileSync(rodsOnly, JSON.stringify({ ...ds, annotations: ds.annotations.filter((a: { rbox?: unknown }) => a.rbox) }));
    expectSelfAP1(rodsOnly, 'rbox', 'rbox', dir);
    expectSelfAP1(ann, 'bbox', 'bbox', dir);
  });

  it('reports bad input with the file name and exit 1', () => {
    const bad = join(dir, 'bad.xml');
    writeFileSync(bad, '<annotation><size><width>10</width>');
    const r = runEmseg('convert', 'voc', bad, '--out', join(dir, 'never.json'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /EMSEG_XML_INVALID: .*bad\.xml: invalid XML/);
    const missing = runEmseg('convert', 'labelmap', '--images', join(dir, 'nope'), '--masks', join(dir, 'nope'), '--out', join(dir, 'x.json'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope: cannot list folder: no such folder/);
    assert.equal(runEmseg('convert', 'pdf', '--out', 'x.json').status, 2);
  });
});

describe('emseg dataset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emseg-dataset-'));
  const base = { images: [{ id: 1, width: 50, height: 40, file_name: 'a.png' }, { id: 2, width: 50, height: 40, file_name: 'b.png' }], categories: [{ id: 1, name: 'v' }] };

  it('check: fails on geometry outside the image, names the record', () => {
    const f = join(dir, 'out.json');
    writeFileSync(f, JSON.stringify({ ...base, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [40, 30, 20, 5], area: 100 }] }));
    const r = runEmseg('dataset', 'check', f);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error: .*annotations\[0\] \(id 1\): bbox \[40, 30, 20, 5\] extends outside the 50 x 40 image 1/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"images": [');
    const b = runEmseg('dataset', 'check', broken);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /broken\.json: invalid JSON at line 1/);
  });

  it('split: seeded, disjoint, complete, and stable for a seed', () => {
    const anns = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, image_id: (i % 10) + 1, category_id: 1, bbox: [1, 1, 5, 5], area: 25 }));
    const images = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, width: 50, height: 40, file_name: `${i}.png` }));
    const f = join(dir, 'ten.json');
    writeFileSync(f, JSON.stringify({ images, categories: base.categories, annotations: anns }));
    const run = (seed: string, out: string) => {
      const r = runEmseg('dataset', 'split', f, '--out-dir', out, '--val', '0.3', '--seed', seed);
      assert.equal(r.status, 0, r.stderr);
      const train = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8'));
      const val = JSON.parse(readFileSync(join(out, 'val.json'), 'utf8'));
      return { train: train.images.map((i: { id: number }) => i.id), val: val.images.map((i: { id: number }) => i.id), trainAnns: train.annotations.length, valAnns: val.annotations.length };
    };
    const a = run('7', join(dir, 's1'));
    const b = run('7', join(dir, 's2'));
    const c = run('8', join(dir, 's3'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.val, c.val);
    assert.equal(a.val.length, 3);
    assert.deepEqual([...a.train, ...a.val].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(a.trainAnns + a.valAnns, 20);
  });

  it('split --folds K --fold I: every image tested exactly once over the folds, parts disjoint, seeded', () => {
    const images = Array.from({ length: 15 }, (_, i) => ({ id: i + 1, width: 50, height: 40, file_name: `${i}.png` }));
    const anns = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [1, 1, 5, 5], area: 25 }));
    const f = join(dir, 'fifteen.json');
    writeFileSync(f, JSON.stringify({ images, categories: base.categories, annotations: anns }));
    const fold = (i: number, seed = '0', out = join(dir, `fold${i}-${seed}`)) => {
      const r = runEmseg('dataset', 'split', f, '--out-dir', out, '--folds', '3', '--fold', String(i), '--val', '0.134', '--seed', seed);
      assert.equal(r.status, 0, r.stderr);
      return Object.fromEntries(['train', 'val', 'test'].map((p) => [p, (JSON.parse(readFileSync(join(out, `${p}.json`), 'utf8')).images as { id: number }[]).map((im) => im.id)]));
    };
    const parts = [0, 1, 2].map((i) => fold(i));
    const tested = parts.flatMap((p) => p.test).sort((a, b) => a - b);
    assert.deepEqual(tested, images.map((im) => im.id), 'each image in exactly one test fold');
    for (const p of parts) {
      assert.deepEqual([p.train.length, p.val.length, p.test.length], [8, 2, 5]);
      assert.deepEqual([...p.train, ...p.val, ...p.test].sort((a, b) => a - b), images.map((im) => im.id), 'the three parts partition the images');
    }
    assert.deepEqual(fold(1, '0', join(dir, 'again')), parts[1]);
    assert.notDeepEqual(fold(1, '4').test, parts[1].test);
    const bad = runEmseg('dataset', 'split', f, '--out-dir', join(dir, 'bad'), '--folds', '3', '--fold', '3');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--fold must be an integer from 0 to 2, received "3"/);
    const withTest = runEmseg('dataset', 'split', f, '--out-dir', join(dir, 'bad'), '--folds', '3', '--fold', '0', '--test', '0.2');
    assert.equal(withTest.status, 2);
    assert.match(withTest.stderr, /--test does not apply with --folds/);
  });

  it('split --train-count N --val-count M: a seeded few-shot draw; the rest kept apart', () => {
    const images = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, width: 50, height: 40, file_name: `${i}.png` }));
    const anns = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [1, 1, 5, 5], area: 25 }));
    const f = join(dir, 'thirty.json');
    writeFileSync(f, JSON.stringify({ images, categories: base.categories, annotations: anns }));
    const draw = (seed: string, out = join(dir, `fs-${seed}`)) => {
      const r = runEmseg('dataset', 'split', f, '--out-dir', out, '--train-count', '14', '--val-count', '2', '--seed', seed);
      assert.equal(r.status, 0, r.stderr);
      return Object.fromEntries(['train', 'val', 'rest'].map((p) => [p, (JSON.parse(readFileSync(join(out, `${p}.json`), 'utf8')).images as { id: number }[]).map((im) => im.id)]));
    };
    const a = draw('0');
    assert.deepEqual([a.train.length, a.val.length, a.rest.length], [14, 2, 14]);
    assert.deepEqual([...a.train, ...a.val, ...a.rest].sort((x, y) => x - y), images.map((im) => im.id));
    assert.deepEqual(draw('0', join(dir, 'fs-again')), a);
    assert.notDeepEqual(draw('1').train, a.train);
    const tooMany = runEmseg('dataset', 'split', f, '--out-dir', join(dir, 'bad'), '--train-count', '29', '--val-count', '2');
    assert.equal(tooMany.status, 1);
    assert.match(tooMany.stderr, /at least 31 images/);
    const half = runEmseg('dataset', 'split', f, '--out-dir', join(dir, 'bad'), '--train-count', '14');
    assert.equal(half.status, 2);
  });

  it('stats: counts and size distribution per class', () => {
    const f = join(dir, 'stats.json');
    writeFileSync(f, JSON.stringify({ ...base, images: base.images.map((im) => ({ ...im, pixel_size_nm: 2 })), annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100 * Math.PI / 4 },
      { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 20, 20], area: 400 * Math.PI / 4 },
    ] }));
    const r = runEmseg('dataset', 'stats', f, '--json');
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.classes[0].instances, 2);
    assert.ok(Math.abs(s.classes[0].diameterPx.min - 10) < 1e-9 && Math.abs(s.classes[0].diameterPx.max - 20) < 1e-9);
    assert.ok(Math.abs(s.classes[0].diameterNm.median - 30) < 1e-9);
  });
});
