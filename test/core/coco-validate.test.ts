import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmsegError, loadCocoDataset, loadCocoResults, loadGroundTruth, parseJsonText, stringifyCoco } from '../../core/index.ts';

const gtObject = () => ({
  images: [{ id: 1, width: 64, height: 48, file_name: 'a.tif' }],
  categories: [{ id: 3, name: 'hole' }],
  annotations: [{ id: 7, image_id: 1, category_id: 3, bbox: [1, 2, 3, 4], area: 12, iscrowd: 0 }],
});

function expectError(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EmsegError, `expected EmsegError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('COCO dataset validation', () => {
  it('accepts a valid dataset and fills defaults', () => {
    const ds = loadCocoDataset(JSON.stringify(gtObject()), 'gt.json');
    assert.equal(ds.annotations[0].iscrowd, 0);
    assert.deepEqual(ds.annotations[0].bbox, [1, 2, 3, 4]);
    // Writing and reading back is lossless.
    assert.deepEqual(loadCocoDataset(stringifyCoco(ds), 'again.json'), ds);
  });

  it('names the file, record and field of every problem', () => {
    const cases: [(o: ReturnType<typeof gtObject>) => void, string, RegExp[]][] = [
      [(o) => { (o as Record<string, unknown>).images = 'x'; }, 'EMSEG_COCO_INVALID', [/gt\.json: top-level field "images": expected an array/]],
      [(o) => { o.annotations[0].bbox = [1, 2, 3] as never; }, 'EMSEG_COCO_INVALID', [/gt\.json: annotations\[0\] \(id 7\): field "bbox": expected a box/, /received \[1,2,3\]/]],
      [(o) => { o.annotations[0].bbox = [1, 2, null, 4] as never; }, 'EMSEG_COCO_INVALID', [/field "bbox"/]],
      [(o) => { o.annotations[0].bbox = [1, 2, -3, 4]; }, 'EMSEG_COCO_INVALID', [/width and height >= 0/]],
      [(o) => { o.annotations[0].image_id = 99; }, 'EMSEG_COCO_UNKNOWN_IMAGE', [/annotations\[0\] \(id 7\): field "image_id": expected the id of an image listed in "images", received 99/]],
      [(o) => { o.annotations[0].category_id = 1; }, 'EMSEG_COCO_UNKNOWN_CATEGORY', [/field "category_id"/]],
      [(o) => { o.images[0].width = 0; }, 'EMSEG_COCO_INVALID', [/images\[0\] \(id 1\): field "width": expected a positive integer/]],
      [(o) => { o.images.push({ ...o.images[0] }); }, 'EMSEG_COCO_INVALID', [/images\[1\]: duplicate id 1/]],
      [(o) => { o.annotations[0].iscrowd = 2; }, 'EMSEG_COCO_INVALID', [/field "iscrowd": expected 0 or 1/]],
      [(o) => { (o.annotations[0] as Record<string, unknown>).id = 'seven'; }, 'EMSEG_COCO_INVALID', [/field "id": expected an integer/]],
      [(o) => { (o.annotations[0] as Record<string, unknown>).segmentation = [[1, 2, 3]]; }, 'EMSEG_COCO_INVALID', [/polygon 0/]],
      [(o) => { (o.annotations[0] as Record<string, unknown>).segmentation = { size: [10, 10], counts: 'abc' }; }, 'EMSEG_COCO_INVALID', [/size \[48, 64\]/]],
      [(o) => { delete (o.annotations[0] as Record<string, unknown>).bbox; delete (o.annotations[0] as Record<string, unknown>).area; }, 'EMSEG_COCO_INVALID', [/field "area"/]],
    ];
    for (const [mutate, code, patterns] of cases) {
      const o = gtObject();
      mutate(o);
      expectError(() => loadCocoDataset(JSON.stringify(o), 'gt.json'), code, ...patterns);
    }
  });

  it('requires the geometry the iouType needs', () => {
    expectError(() => loadGroundTruth(JSON.stringify(gtObject()), 'gt.json', 'rbox'), 'EMSEG_COCO_INVALID', /annotations\[0\] \(id 7\): field "rbox": expected it for iouType "rbox"/);
  });

  it('refuses images beyond 2^29 pixels before rasterising their masks (fuzzing: a 40 x 2^31 image with polygons hung)', () => {
    const o = gtObject();
    o.images[0].height = 2 ** 31;
    Object.assign(o.annotations[0], { segmentation: [[1, 1, 12, 1, 12, 9]], area: undefined });
    expectError(() => loadCocoDataset(JSON.stringify(o), 'tall.json'), 'EMSEG_COCO_INVALID', /tall\.json: images\[0\] \(id 1\): field "height": expected width x height at most 536870912 pixels .*received 2147483648/);
  });

  it('describes a field nested too deeply to print (fuzzing: was a RangeError from String() of the array)', () => {
    const text = JSON.stringify(gtObject()).replace('"bbox":[1,2,3,4]', `"bbox":[1,2,3,${'['.repeat(20_000)}4${']'.repeat(20_000)}]`);
    expectError(() => loadCocoDataset(text, 'deep.json'), 'EMSEG_COCO_INVALID', /deep\.json: annotations\[0\] \(id 7\): field "bbox": .*received \[4 items, nested too deeply to show\]/);
  });
});

describe('COCO results validation', () => {
  const gt = loadCocoDataset(JSON.stringify(gtObject()), 'gt.json');
  it('rejects unknown images and categories, missing scores and geometry', () => {
    const det = { image_id: 1, category_id: 3, bbox: [0, 0, 1, 1], score: 0.5 };
    assert.equal(loadCocoResults(JSON.stringify([det]), 'dt.json', gt, 'bbox').length, 1);
    expectError(() => loadCocoResults(JSON.stringify([{ ...det, image_id: 5 }]), 'dt.json', gt, 'bbox'), 'EMSEG_COCO_UNKNOWN_IMAGE', /dt\.json: results\[0\]: field "image_id"/);
    expectError(() => loadCocoResults(JSON.stringify([det, { ...det, category_id: 0 }]), 'dt.json', gt, 'bbox'), 'EMSEG_COCO_UNKNOWN_CATEGORY', /results\[1\]/);
    expectError(() => loadCocoResults(JSON.stringify([{ ...det, score: null }]), 'dt.json', gt, 'bbox'), 'EMSEG_COCO_INVALID', /field "score": expected a finite number, received null/);
    expectError(() => loadCocoResults(JSON.stringify([det]), 'dt.json', gt, 'segm'), 'EMSEG_COCO_INVALID', /field "segmentation"/);
    expectError(() => loadCocoResults(JSON.stringify({ results: [] }), 'dt.json', gt, 'bbox'), 'EMSEG_COCO_INVALID', /expected a COCO results list/);
  });
});

describe('JSON parsing', () => {
  it('reports invalid JSON nested too deeply to locate (fuzzing: was a RangeError from the locating parser)', () => {
    expectError(() => parseJsonText(`{"a":${'['.repeat(50_000)}x${']'.repeat(50_000)}}`, 'deep.json'), 'EMSEG_JSON_SYNTAX', /^deep\.json: invalid JSON: /);
  });

  it('reports the file, line and column of a syntax error', () => {
    expectError(() => parseJsonText('{\n  "a": 1,\n  "b": }', 'x.json'), 'EMSEG_JSON_SYNTAX', /x\.json: invalid JSON at line 3/);
    expectError(() => parseJsonText('', 'empty.json'), 'EMSEG_JSON_SYNTAX', /empty\.json: file is empty/);
  });
  it('explains NaN and Infinity written by Python', () => {
    expectError(() => parseJsonText('[{"score": NaN}]', 'dt.json'), 'EMSEG_JSON_SYNTAX', /found NaN, which JSON does not allow/);
  });
});
