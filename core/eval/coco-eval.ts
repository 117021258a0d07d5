import { EmsegError, invalidArgument } from '../errors.ts';
import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';
import { cocoSegmentationToRle } from '../mask/coco-segmentation.ts';
import type { CocoDataset, CocoDetection, IouType } from '../coco/types.ts';
import { type PreparedRle, bboxIoUMatrix, prepareRle, rboxIoUMatrix, segmIoUMatrix } from './iou-matrix.ts';
import { type EvalParams, defaultEvalParams } from './params.ts';
import { type EvalStats, summarize } from './summarize.ts';

/**
 * COCO evaluation with pycocotools' `COCOeval` semantics (evaluate + accumulate + summarize) for
 * iouType `bbox`, `segm` and emseg's `rbox` (rotated boxes, exact polygon IoU).
 *
 * Faithful details: detections sorted by score with a stable sort (ties keep file order) and cut to
 * max(maxDets) per image and category; crowd GTs are ignored and can match many detections; a GT's
 * `area` field (never recomputed) decides its area range; a detection's area is its box w*h, its mask
 * pixel count, or its rotated box w*h (for `segm` results that also carry a `bbox`, the box area,
 * as pycocotools' `loadRes` does); precision is interpolated and sampled at `recThrs` with numpy's
 * `searchsorted(side='left')`.
 * One deliberate difference: pycocotools stores matched GT ids in a float array and tests them for
 * truth, so a match to a GT whose id is 0 counts as a false positive; here it counts as a match.
 */

/** Per (image, category, area range) matching result; arrays are `[T x D]` row-major. */
interface ImageEval {
  dtScores: Float64Array;
  dtMatched: Uint8Array;
  dtIgnore: Uint8Array;
  /** Number of GTs that are not ignored in this area range. */
  nonIgnoredGt: number;
}

export interface EvalResult {
  iouType: IouType;
  params: EvalParams;
  imgIds: number[];
  catIds: number[];
  /** Precision `[T][R][K][A][M]`, flattened row-major; -1 where there is no GT. */
  precision: Float64Array;
  /** Recall `[T][K][A][M]`, flattened row-major; -1 where there is no GT. */
  recall: Float64Array;
  /** Detection score at each sampled precision point, `[T][R][K][A][M]`. */
  scores: Float64Array;
  /** Shape of `precision` and `scores`. */
  precisionShape: [number, number, number, number, number];
  recallShape: [number, number, number, number];
  stats: EvalStats;
  /** The 12 stats in pycocotools' order (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl). */
  statsArray: number[];
  /** Per category id: mean precision over IoU thresholds and recall points (area all, 100 dets); -1 without GT. */
  perCategoryAP: Map<number, number>;
}

interface Instance<G> {
  id: number;
  geometry: G;
  area: number;
  crowd: 0 | 1;
  score: number;
}

type Geometry = BoxXYWH | RotatedBox | PreparedRle;

function key(imgId: number, catId: number): string {
  return `${imgId}:${catId}`;
}

function groupBy<T extends { imgId: number; catId: number }>(items: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it.imgId, it.catId);
    const list = map.get(k);
    if (list) list.push(it);
    else map.set(k, [it]);
  }
  return map;
}

function geometryOf(
  iouType: IouType,
  record: { bbox?: BoxXYWH; rbox?: RotatedBox; segmentation?: unknown },
  height: number,
  width: number,
  where: string,
): Geometry {
  // A record without the geometry the evaluation needs is a typed error, never a TypeError further in.
  const field = iouType === 'bbox' ? record.bbox : iouType === 'rbox' ? record.rbox : record.segmentation;
  if (field === undefined || field === null) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${where}: no "${iouType === 'segm' ? 'segmentation' : iouType}" (${iouType} evaluation needs it on every record)`);
  }
  if (iouType === 'bbox') return record.bbox as BoxXYWH;
  if (iouType === 'rbox') return record.rbox as RotatedBox;
  return prepareRle(cocoSegmentationToRle(record.segmentation as never, height, width, `${where}.segmentation`));
}

function iouMatrix(iouType: IouType, dts: Geometry[], gts: Geometry[], crowd: Uint8Array): Float64Array {
  if (iouType === 'bbox') return bboxIoUMatrix(dts as BoxXYWH[], gts as BoxXYWH[], crowd);
  if (iouType === 'rbox') return rboxIoUMatrix(dts as RotatedBox[], gts as RotatedBox[], crowd);
  return segmIoUMatrix(dts as PreparedRle[], gts as PreparedRle[], crowd);
}

/** Stable order by descending score (numpy's `argsort(-scores, kind='mergesort')`). */
function byScoreDesc<T extends { score: number }>(list: T[]): T[] {
  return list
    .map((it, i) => ({ it, i }))
    .sort((a, b) => b.it.score - a.it.score || a.i - b.i)
    .map((x) => x.it);
}

/**
 * Evaluate detections against ground truth. `gt` and `dt` must have been validated
 * (`parseCocoDataset` / `parseCocoResults`); `sourceNames` only labels errors.
 */
export function evaluateCoco(
  gt: CocoDataset,
  dt: readonly CocoDetection[],
  iouType: IouType,
  params: EvalParams = defaultEvalParams(),
  sourceNames: { gt?: string; dt?: string } = {},
): EvalResult {
  if (iouType !== 'bbox' && iouType !== 'segm' && iouType !== 'rbox') {
    throw invalidArgument('iouType', '"bbox", "segm" or "rbox"', iouType);
  }
  const gtName = sourceNames.gt ?? 'ground truth';
  const dtName = sourceNames.dt ?? 'detections';
  const imageSize = new Map(gt.images.map((im) => [im.id, im]));
  const imgIds = [...new Set(gt.images.map((im) => im.id))].sort((a, b) => a - b);
  const catIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b);
  const maxDetMax = params.maxDets[params.maxDets.length - 1];

  const gts = gt.annotations.map((a, i) => {
    const im = imageSize.get(a.image_id)!;
    const inst: Instance<Geometry> & { imgId: number; catId: number } = {
      id: a.id,
      imgId: a.image_id,
      catId: a.category_id,
      geometry: geometryOf(iouType, a, im.height, im.width, `${gtName}: annotations[${i}] (id ${a.id})`),
      area: a.area,
      crowd: a.iscrowd,
      score: 0,
    };
    return inst;
  });
  // pycocotools' loadRes: segm results that carry a bbox take the box area (decided by the first record).
  const segmAreaFromBox = iouType === 'segm' && dt.length > 0 && dt[0].bbox !== undefined && dt[0].bbox.length > 0;
  const dts = dt.map((d, i) => {
    const im = imageSize.get(d.image_id)!;
    const geometry = geometryOf(iouType, d, im.height, im.width, `${dtName}: results[${i}]`);
    let area: number;
    if (iouType === 'bbox') area = d.bbox![2] * d.bbox![3];
    else if (iouType === 'rbox') area = d.rbox![2] * d.rbox![3];
    else if (segmAreaFromBox) {
      if (!d.bbox) throw invalidArgument(`${dtName}: results[${i}].bbox`, 'a bbox (the first result has one)', d.bbox);
      area = d.bbox[2] * d.bbox[3];
    } else area = (geometry as PreparedRle).area;
    return { id: i + 1, imgId: d.image_id, catId: d.category_id, geometry, area, crowd: 0 as const, score: d.score };
  });

  const gtGroups = groupBy(gts);
  const dtGroups = groupBy(dts);
  const T = params.iouThrs.length;
  const A = params.areaRng.length;
  const K = catIds.length;
  const I = imgIds.length;
  // Minimum IoU any threshold can accept: pairs below it can never match and are skipped.
  const minMatchIoU = Math.min(...params.iouThrs.map((t) => Math.min(t, 1 - 1e-10)));

  // evalImgs[(k * A + a) * I + i]
  const evalImgs: (ImageEval | null)[] = new Array(K * A * I).fill(null);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) {
      const gList = gtGroups.get(key(imgIds[i], catIds[k])) ?? [];
      const dAll = dtGroups.get(key(imgIds[i], catIds[k])) ?? [];
      if (gList.length === 0 && dAll.length === 0) continue;
      const dList = byScoreDesc(dAll).slice(0, maxDetMax);
      const crowd = Uint8Array.from(gList, (g) => g.crowd);
      const ious = iouMatrix(iouType, dList.map((d) => d.geometry), gList.map((g) => g.geometry), crowd);
      for (let a = 0; a < A; a++) {
        evalImgs[(k * A + a) * I + i] = evaluateImage(gList, dList, ious, params, a, maxDetMax, minMatchIoU, T);
      }
    }
  }

  const { precision, recall, scores, shape } = accumulate(evalImgs, params, K, A, I, T);
  const { stats, statsArray } = summarize(precision, recall, params, shape);
  const perCategoryAP = new Map<number, number>();
  const [, R, , , M] = shape;
  for (let k = 0; k < K; k++) {
    let sum = 0;
    let n = 0;
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < R; r++) {
        const v = precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)];
        if (v > -1) {
          sum += v;
          n++;
        }
      }
    }
    perCategoryAP.set(catIds[k], n === 0 ? -1 : sum / n);
  }
  return {
    iouType,
    params,
    imgIds,
    catIds,
    precision,
    recall,
    scores,
    precisionShape: shape,
    recallShape: [T, K, A, M],
    stats,
    statsArray,
    perCategoryAP,
  };
}

/** pycocotools' `evaluateImg` for one area range: greedy matching at every IoU threshold. */
function evaluateImage(
  gList: Instance<Geometry>[],
  dList: Instance<Geometry>[],
  ious: Float64Array,
  params: EvalParams,
  a: number,
  maxDet: number,
  minMatchIoU: number,
  T: number,
): ImageEval {
  const [lo, hi] = params.areaRng[a];
  const G = gList.length;
  // GTs ordered with non-ignored first (stable), as pycocotools' `gtind`.
  const gIgnoreRaw = gList.map((g) => (g.crowd || g.area < lo || g.area > hi ? 1 : 0));
  const gOrder = gList.map((_, g) => g).sort((p, q) => gIgnoreRaw[p] - gIgnoreRaw[q] || p - q);
  const gIgnore = Uint8Array.from(gOrder, (g) => gIgnoreRaw[g]);
  const gCrowd = Uint8Array.from(gOrder, (g) => gList[g].crowd);
  const D = Math.min(dList.length, maxDet);
  const dtMatched = new Uint8Array(T * D);
  const dtIgnore = new Uint8Array(T * D);
  const gtMatched = new Uint8Array(T * G);
  // Candidate GTs per detection (in `gOrder`), skipping pairs below every threshold.
  const candidates: number[][] = [];
  for (let d = 0; d < D; d++) {
    const list: number[] = [];
    for (let s = 0; s < G; s++) if (ious[d * G + gOrder[s]] >= minMatchIoU) list.push(s);
    candidates.push(list);
  }
  for (let t = 0; t < T; t++) {
    const thr = Math.min(params.iouThrs[t], 1 - 1e-10);
    for (let d = 0; d < D; d++) {
      let best = thr;
      let m = -1;
      for (const s of candidates[d]) {
        if (gtMatched[t * G + s] && !gCrowd[s]) continue;
        if (m > -1 && gIgnore[m] === 0 && gIgnore[s] === 1) break;
        const v = ious[d * G + gOrder[s]];
        if (v < best) continue;
        best = v;
        m = s;
      }
      if (m === -1) continue;
      dtIgnore[t * D + d] = gIgnore[m];
      dtMatched[t * D + d] = 1;
      gtMatched[t * G + m] = 1;
    }
  }
  // Unmatched detections outside the area range are ignored.
  for (let d = 0; d < D; d++) {
    const out = dList[d].area < lo || dList[d].area > hi;
    if (!out) continue;
    for (let t = 0; t < T; t++) if (!dtMatched[t * D + d]) dtIgnore[t * D + d] = 1;
  }
  let nonIgnoredGt = 0;
  for (let s = 0; s < G; s++) if (!gIgnore[s]) nonIgnoredGt++;
  return {
    dtScores: Float64Array.from(dList.slice(0, D), (x) => x.score),
    dtMatched,
    dtIgnore,
    nonIgnoredGt,
  };
}

const EPS = 2.220446049250313e-16; // np.spacing(1)

/** pycocotools' `accumulate`: PR curves per (threshold, category, area, maxDets). */
function accumulate(evalImgs: (ImageEval | null)[], params: EvalParams, K: number, A: number, I: number, T: number) {
  const R = params.recThrs.length;
  const M = params.maxDets.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const pIndex = (t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const E: ImageEval[] = [];
      for (let i = 0; i < I; i++) {
        const e = evalImgs[(k * A + a) * I + i];
        if (e) E.push(e);
      }
      if (E.length === 0) continue;
      let npig = 0;
      for (const e of E) npig += e.nonIgnoredGt;
      if (npig === 0) continue;
      for (let m = 0; m < M; m++) {
        const maxDet = params.maxDets[m];
        // Concatenate each image's first maxDet detections, in image order, then stable-sort by score.
        const refs: { e: ImageEval; d: number; D: number; score: number }[] = [];
        for (const e of E) {
          const D = e.dtScores.length;
          const n = Math.min(D, maxDet);
          for (let d = 0; d < n; d++) refs.push({ e, d, D, score: e.dtScores[d] });
        }
        const order = refs.map((_, j) => j).sort((p, q) => refs[q].score - refs[p].score || p - q);
        const nd = order.length;
        const rc = new Float64Array(nd);
        const pr = new Float64Array(nd);
        for (let t = 0; t < T; t++) {
          let tpSum = 0;
          let fpSum = 0;
          for (let j = 0; j < nd; j++) {
            const { e, d, D } = refs[order[j]];
            if (!e.dtIgnore[t * D + d]) {
              if (e.dtMatched[t * D + d]) tpSum++;
              else fpSum++;
            }
            rc[j] = tpSum / npig;
            pr[j] = tpSum / (fpSum + tpSum + EPS);
          }
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          // searchsorted(rc, recThrs, side='left'); points past the curve's end stay 0.
          let j = 0;
          for (let r = 0; r < R; r++) {
            const thr = params.recThrs[r];
            while (j < nd && rc[j] < thr) j++;
            if (j < nd) {
              precision[pIndex(t, r, k, a, m)] = pr[j];
              scores[pIndex(t, r, k, a, m)] = refs[order[j]].score;
            } else {
              precision[pIndex(t, r, k, a, m)] = 0;
              scores[pIndex(t, r, k, a, m)] = 0;
            }
          }
        }
      }
    }
  }
  return { precision, recall, scores, shape: [T, R, K, A, M] as [number, number, number, number, number] };
}
