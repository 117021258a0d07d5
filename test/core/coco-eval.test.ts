import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  type CocoDataset,
  type IouType,
  defaultEvalParams,
  encodeMask,
  evalReport,
  evaluateCoco,
  loadCocoResults,
  loadGroundTruth,
  parseCocoDataset,
  parseCocoResults,
  rleCountsToString,
} from '../../core/index.ts';
import { cocoFixture, readJson } from '../helpers/fixtures.ts';

interface Expected {
  iouType: IouType;
  stats: Record<string, number>;
  perCategoryAP: Record<string, number>;
}

function runFixture(name: string, iouType: IouType) {
  const gtPath = cocoFixture(`${name}.gt.json`);
  const dtPath = cocoFixture(`${name}.dt.json`);
  const gt = loadGroundTruth(readFileSync(gtPath, 'utf8'), gtPath, iouType);
  const dt = loadCocoResults(readFileSync(dtPath, 'utf8'), dtPath, gt, iouType);
  return evalReport(evaluateCoco(gt, dt, iouType));
}

describe('evaluateCoco matches pycocotools on the reference cases', () => {
  for (const [name, iouType] of [['bbox_basic', 'bbox'], ['segm_poly', 'segm'], ['rbox_rods', 'rbox']] as const) {
    it(`${name} (${iouType}): 12 stats and per-category AP within 1e-9`, () => {
      const expected = readJson<Expected>(cocoFixture(`${name}.expected.json`));
      const got = runFixture(name, iouType);
      assert.equal(got.iouType, expected.iouType);
      assert.deepEqual(Object.keys(got.stats), Object.keys(expected.stats));
      for (const [k, v] of Object.entries(expected.stats)) {
        assert.ok(Math.abs(got.stats[k as keyof typeof got.stats] - v) <= 1e-9, `${k}: expected ${v}, got ${got.stats[k as keyof typeof got.stats]}`);
      }
      assert.deepEqual(Object.keys(got.perCategoryAP).sort(), Object.keys(expected.perCategoryAP).sort());
      for (const [k, v] of Object.entries(expected.perCategoryAP)) {
        assert.ok(Math.abs(got.perCategoryAP[k] - v) <= 1e-9, `category ${k}: expected ${v}, got ${got.perCategoryAP[k]}`);
      }
    });
  }

  it('uses numpy linspace thresholds (iouThrs[8] = 0.8999999999999999, recThrs[i] = i * 0.01)', () => {
    const p = defaultEvalParams();
    assert.equal(p.iouThrs[8], 0.8999999999999999);
    assert.equal(p.iouThrs[9], 0.95);
    assert.equal(p.recThrs[35], 35 * 0.01);
    assert.notEqual(p.recThrs[35], 35 / 100);
  });
});

// Small hand-made cases whose numbers follow from COCOeval's rules by reasoning. Precision is
// tp / (tp + fp + eps) as in pycocotools, so a perfect score is 1 - 2e-16: compare with `near`.
const near = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} expected ${b}, got ${a}`);

function dataset(images: [number, number, number][], anns: Partial<CocoDataset['annotations'][number]>[], cats = [1, 2]): CocoDataset {
  return parseCocoDataset(
    {
      images: images.map(([id, width, height]) => ({ id, width, height, file_name: `${id}.tif` })),
      categories: cats.map((id) => ({ id, name: `c${id}` })),
      annotations: anns.map((a, i) => ({ id: i + 1, category_id: 1, iscrowd: 0, ...a })),
    },
    'gt.json',
  );
}

function evalStats(gt: CocoDataset, dts: Record<string, unknown>[], iouType: IouType = 'bbox') {
  const results = parseCocoResults(dts.map((d) => ({ category_id: 1, ...d })), 'dt.json', gt, iouType);
  return evaluateCoco(gt, results, iouType);
}

describe('evaluateCoco semantics', () => {
  it('scores perfect detections AP = AR = 1 and no detections AP = AR = 0', () => {
    const gt = dataset([[1, 100, 100]], [{ image_id: 1, bbox: [10, 10, 40, 40], area: 1600 }, { image_id: 1, bbox: [60, 60, 20, 20], area: 400 }]);
    const perfect = evalStats(gt, [{ image_id: 1, bbox: [10, 10, 40, 40], score: 0.9 }, { image_id: 1, bbox: [60, 60, 20, 20], score: 0.8 }]);
    near(perfect.stats.AP, 1);
    assert.equal(perfect.stats.AR100, 1);
    assert.equal(perfect.stats.AR1, 0.5);
    near(perfect.stats.APs, 1, 'the 400 px^2 GT is small');
    near(perfect.stats.APm, 1, 'the 1600 px^2 GT is medium');
    assert.equal(perfect.stats.APl, -1, 'no large GT: undefined');
    assert.equal(perfect.perCategoryAP.get(2), -1, 'category without GT');
    const none = evalStats(gt, []);
    assert.equal(none.stats.AP, 0);
    assert.equal(none.stats.AR100, 0);
  });

  it('ignores crowd regions: detections inside them are neither TP nor FP, and one crowd absorbs many', () => {
    const gt = dataset([[1, 200, 200]], [
      { image_id: 1, bbox: [10, 10, 20, 20], area: 400 },
      { image_id: 1, bbox: [100, 100, 80, 80], area: 6400, iscrowd: 1 },
    ]);
    const dets = [
      { image_id: 1, bbox: [120, 120, 10, 10], score: 0.99 }, // inside the crowd: crowd IoU = 1
      { image_id: 1, bbox: [150, 150, 10, 10], score: 0.98 }, // inside the crowd too
      { image_id: 1, bbox: [10, 10, 20, 20], score: 0.5 },
    ];
    const r = evalStats(gt, dets);
    near(r.stats.AP, 1);
    assert.equal(r.stats.AR1, 0, 'the crowd-matched top detection uses the only slot of maxDets=1');
    assert.equal(r.stats.AR10, 1);
    // Without the crowd flag the two top detections are false positives: precision 1/3 at recall 1.
    const notCrowd = dataset([[1, 200, 200]], [
      { image_id: 1, bbox: [10, 10, 20, 20], area: 400 },
      { image_id: 1, bbox: [100, 100, 80, 80], area: 6400 },
    ]);
    const r2 = evalStats(notCrowd, dets);
    assert.ok(r2.stats.AP < 0.5);
  });

  it('counts detections on images without GT as false positives, and empty images do not matter', () => {
    const gt = dataset([[1, 100, 100], [2, 100, 100], [3, 100, 100]], [{ image_id: 1, bbox: [10, 10, 40, 40], area: 1600 }]);
    // Sorted: FP (0.9, image 2) then TP (0.5): rc [0, 1], pr [0, 0.5] -> interpolated 0.5 everywhere.
    const r = evalStats(gt, [{ image_id: 1, bbox: [10, 10, 40, 40], score: 0.5 }, { image_id: 2, bbox: [0, 0, 5, 5], score: 0.9 }]);
    near(r.stats.AP, 0.5);
    assert.equal(r.stats.AR100, 1);
  });

  it('breaks score ties by file order (stable sort)', () => {
    const gt = dataset([[1, 100, 100]], [{ image_id: 1, bbox: [10, 10, 40, 40], area: 1600 }]);
    const tp = { image_id: 1, bbox: [10, 10, 40, 40] as [number, number, number, number], score: 0.8 };
    const fp = { image_id: 1, bbox: [70, 70, 10, 10] as [number, number, number, number], score: 0.8 };
    near(evalStats(gt, [fp, tp]).stats.AP, 0.5);
    near(evalStats(gt, [tp, fp]).stats.AP, 1);
  });

  it('keeps only the 100 best detections per image and category', () => {
    const gt = dataset([[1, 1000, 1000]], [{ image_id: 1, bbox: [0, 0, 10, 10], area: 100 }]);
    const dets = Array.from({ length: 150 }, (_, i) => ({ image_id: 1, bbox: [500, 500, 10, 10] as [number, number, number, number], score: 1 - i / 1000 }));
    dets.push({ image_id: 1, bbox: [0, 0, 10, 10], score: 0.5 }); // below all 150: cut off
    const r = evalStats(gt, dets);
    assert.equal(r.stats.AP, 0);
    assert.equal(r.stats.AR100, 0);
    dets[dets.length - 1].score = 0.9995; // now in the top 100 (rank 1)
    const r2 = evalStats(gt, dets);
    assert.equal(r2.stats.AR100, 1);
    assert.equal(r2.stats.AR1, 0, 'rank 1 is not the single best detection');
    assert.equal(r2.stats.AR10, 1);
  });

  it('matches each GT at most once and prefers the higher-scored detection', () => {
    const gt = dataset([[1, 100, 100]], [{ image_id: 1, bbox: [10, 10, 40, 40], area: 1600 }]);
    // Duplicate detection of the same object: the second is a false positive at every threshold.
    const r = evalStats(gt, [{ image_id: 1, bbox: [10, 10, 40, 40], score: 0.9 }, { image_id: 1, bbox: [10, 10, 40, 40], score: 0.8 }]);
    near(r.stats.AP, 1, 'the FP comes after recall reached 1: interpolated precision stays 1');
    const idx = (t: number, r_: number) => (((t * 101 + r_) * 2 + 0) * 4 + 0) * 3 + 2;
    near(r.precision[idx(0, 100)], 1);
  });

  it('counts a detection at IoU 0.75 as a match for thresholds 0.50 to 0.75 (6 of 10)', () => {
    const gt = dataset([[1, 100, 100]], [{ image_id: 1, bbox: [0, 0, 10, 10], area: 100 }]);
    // Shifted box [0, 0, 10, 7.5]: IoU = 75 / 100 = 0.75 -> matches thresholds 0.50 .. 0.75 (6 of 10).
    const r = evalStats(gt, [{ image_id: 1, bbox: [0, 0, 10, 7.5], score: 0.9 }]);
    near(r.stats.AP50, 1);
    near(r.stats.AP75, 1);
    assert.ok(Math.abs(r.stats.AP - 0.6) < 1e-12);
  });

  it('evaluates masks given as polygons, uncompressed RLE or compressed RLE identically', () => {
    const h = 20, w = 30;
    const m = new Uint8Array(h * w);
    for (let y = 4; y < 12; y++) for (let x = 5; x < 17; x++) m[y * w + x] = 1;
    const rle = encodeMask(m, h, w);
    const forms = [
      [[5, 4, 17, 4, 17, 12, 5, 12]],
      { size: [h, w], counts: [...rle.counts] },
      { size: [h, w], counts: rleCountsToString(rle.counts) },
    ];
    for (const seg of forms) {
      const gt = dataset([[1, w, h]], [{ image_id: 1, segmentation: seg as never }]);
      assert.equal(gt.annotations[0].area, 96, 'area computed from the mask when missing');
      const r = evalStats(gt, [{ image_id: 1, segmentation: { size: [h, w], counts: rleCountsToString(rle.counts) }, score: 1 }], 'segm');
      near(r.stats.AP, 1);
    }
  });

  it('treats rotated boxes that differ only by angle wrap or w/h swap as the same box', () => {
    const gt = dataset([[1, 200, 200]], [{ image_id: 1, rbox: [50, 50, 40, 8, 10], area: 320 }, { image_id: 1, rbox: [120, 120, 30, 6, -85], area: 180 }]);
    const r = evalStats(gt, [
      { image_id: 1, rbox: [50, 50, 40, 8, 190], score: 0.9 },
      { image_id: 1, rbox: [120, 120, 6, 30, 5], score: 0.8 },
    ], 'rbox');
    assert.ok(Math.abs(r.stats.AP - 1) < 1e-12);
  });

  it('counts a match to a GT whose id is 0 (where pycocotools would not)', () => {
    const gt = parseCocoDataset(
      { images: [{ id: 1, width: 50, height: 50 }], categories: [{ id: 1, name: 'a' }], annotations: [{ id: 0, image_id: 1, category_id: 1, bbox: [1, 1, 10, 10], area: 100 }] },
      'gt.json',
    );
    near(evalStats(gt, [{ image_id: 1, bbox: [1, 1, 10, 10], score: 1 }]).stats.AP, 1);
  });
});
