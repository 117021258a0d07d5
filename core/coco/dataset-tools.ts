import { invalidArgument } from '../errors.ts';
import { rotatedBoxEnclosing } from '../geometry/rotated-box.ts';
import { cocoSegmentationToRle } from '../mask/coco-segmentation.ts';
import { rleArea } from '../mask/rle.ts';
import { seededRandom } from '../random.ts';
import type { CocoDataset } from './types.ts';

/** A finding of `checkDataset` beyond what parsing already rejects. */
export interface DatasetIssue {
  level: 'error' | 'warning';
  where: string;
  message: string;
}

/**
 * Consistency checks on a dataset that parsed: geometry outside the image, empty objects, masks whose
 * pixel count disagrees with `area`, images without annotations, categories never used, and GT id 0
 * (pycocotools would count a match to it as a false positive).
 */
export function checkDataset(ds: CocoDataset): DatasetIssue[] {
  const issues: DatasetIssue[] = [];
  const images = new Map(ds.images.map((im) => [im.id, im]));
  const used = new Set<number>();
  const annotated = new Set<number>();
  const tol = 1e-6;
  ds.annotations.forEach((a, i) => {
    const where = `annotations[${i}] (id ${a.id})`;
    const im = images.get(a.image_id)!;
    used.add(a.category_id);
    annotated.add(a.image_id);
    if (a.id === 0) issues.push({ level: 'warning', where, message: 'annotation id 0: pycocotools counts a match to it as a false positive; start ids at 1' });
    if (a.bbox) {
      const [x, y, w, h] = a.bbox;
      if (w === 0 || h === 0) issues.push({ level: 'error', where, message: `empty bbox [${a.bbox.join(', ')}]` });
      if (x < -tol || y < -tol || x + w > im.width + tol || y + h > im.height + tol) {
        issues.push({ level: 'error', where, message: `bbox [${a.bbox.join(', ')}] extends outside the ${im.width} x ${im.height} image ${im.id}` });
      }
    }
    if (a.rbox) {
      const [x1, y1, x2, y2] = rotatedBoxEnclosing(a.rbox);
      if (a.rbox[2] === 0 || a.rbox[3] === 0) issues.push({ level: 'error', where, message: `empty rbox [${a.rbox.join(', ')}]` });
      if (x2 < 0 || y2 < 0 || x1 > im.width || y1 > im.height) issues.push({ level: 'error', where, message: `rbox lies entirely outside image ${im.id}` });
    }
    if (a.segmentation) {
      const pixels = rleArea(cocoSegmentationToRle(a.segmentation, im.height, im.width, where));
      if (pixels === 0) issues.push({ level: 'error', where, message: 'segmentation covers no pixel' });
      else if (Math.abs(pixels - a.area) > 0.02 * pixels + 1) {
        issues.push({ level: 'warning', where, message: `area ${a.area} differs from the mask's ${pixels} pixels (area decides small/medium/large in evaluation)` });
      }
    }
  });
  for (const im of ds.images) if (!annotated.has(im.id)) issues.push({ level: 'warning', where: `image ${im.id} (${im.file_name})`, message: 'has no annotations' });
  for (const c of ds.categories) if (!used.has(c.id)) issues.push({ level: 'warning', where: `category ${c.id} (${c.name})`, message: 'has no annotations' });
  return issues;
}

export interface ClassStats {
  id: number;
  name: string;
  instances: number;
  imagesWith: number;
  /** Equivalent circular diameter sqrt(4 * area / pi), in pixels. */
  diameterPx: { min: number; median: number; max: number; histogram: { edges: number[]; counts: number[] } } | null;
  /** The same in nm when every image of the class carries `pixel_size_nm`. */
  diameterNm: { min: number; median: number; max: number } | null;
}

export interface DatasetStats {
  images: number;
  annotations: number;
  crowd: number;
  classes: ClassStats[];
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** Per-class counts and size distributions (equivalent diameter, log-spaced histogram of 10 bins). */
export function datasetStats(ds: CocoDataset): DatasetStats {
  const pixelSize = new Map(ds.images.map((im) => [im.id, typeof im.pixel_size_nm === 'number' ? im.pixel_size_nm : null]));
  const classes = ds.categories.map((c): ClassStats => {
    const anns = ds.annotations.filter((a) => a.category_id === c.id && !a.iscrowd);
    const diam = anns.map((a) => Math.sqrt((4 * a.area) / Math.PI)).sort((p, q) => p - q);
    let diameterPx: ClassStats['diameterPx'] = null;
    if (diam.length > 0) {
      const lo = Math.max(diam[0], 1e-9), hi = Math.max(diam[diam.length - 1], lo * 1.000001);
      const edges = Array.from({ length: 11 }, (_, i) => lo * (hi / lo) ** (i / 10));
      const counts = new Array(10).fill(0);
      for (const d of diam) counts[Math.min(9, Math.max(0, Math.floor((10 * Math.log(d / lo)) / Math.log(hi / lo))))]++;
      diameterPx = { min: diam[0], median: median(diam), max: diam[diam.length - 1], histogram: { edges, counts } };
    }
    const nm = anns.map((a) => {
      const ps = pixelSize.get(a.image_id);
      return ps == null ? null : Math.sqrt((4 * a.area) / Math.PI) * ps;
    });
    const allNm = nm.length > 0 && nm.every((v) => v !== null) ? (nm as number[]).sort((p, q) => p - q) : null;
    return {
      id: c.id,
      name: c.name,
      instances: anns.length,
      imagesWith: new Set(anns.map((a) => a.image_id)).size,
      diameterPx,
      diameterNm: allNm ? { min: allNm[0], median: median(allNm), max: allNm[allNm.length - 1] } : null,
    };
  });
  return { images: ds.images.length, annotations: ds.annotations.length, crowd: ds.annotations.filter((a) => a.iscrowd).length, classes };
}

/** The images with the given ids and their annotations; categories and info are kept. */
export function subsetDataset(ds: CocoDataset, imageIds: Iterable<number>): CocoDataset {
  const keep = new Set(imageIds);
  return {
    ...ds,
    images: ds.images.filter((im) => keep.has(im.id)),
    annotations: ds.annotations.filter((a) => keep.has(a.image_id)),
  };
}

/** Image ids ordered by id, then shuffled with the seed (Fisher-Yates on emseg's PRNG). */
function shuffledImageIds(ds: CocoDataset, seed: number): number[] {
  const ids = ds.images.map((im) => im.id).sort((a, b) => a - b);
  const rand = seededRandom(seed);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids;
}

/**
 * Fold `fold` of a seeded K-fold cross-validation by image: the shuffled images are cut into K folds
 * of near-equal size (sizes differ by at most one); the fold is the test part, and of the other
 * images the first round(valFraction x all) (at least one) are validation, the rest training. Over
 * fold = 0..K-1 every image is tested exactly once; the same (dataset, K, seed) gives the same folds.
 */
export function crossValidationSplit(ds: CocoDataset, folds: number, fold: number, valFraction: number, seed: number): Record<'train' | 'val' | 'test', CocoDataset> {
  if (!Number.isInteger(folds) || folds < 2) throw invalidArgument('folds', 'an integer >= 2', folds);
  if (!Number.isInteger(fold) || fold < 0 || fold >= folds) throw invalidArgument('fold', `an integer from 0 to ${folds - 1}`, fold);
  if (!(valFraction > 0 && valFraction < 1)) throw invalidArgument('validation fraction', 'a fraction between 0 and 1', valFraction);
  const ids = shuffledImageIds(ds, seed);
  const n = ids.length;
  const start = Math.floor((fold * n) / folds), end = Math.floor(((fold + 1) * n) / folds);
  const rest = [...ids.slice(0, start), ...ids.slice(end)];
  const nVal = Math.max(1, Math.round(valFraction * n));
  if (end - start < 1 || rest.length - nVal < 1) throw invalidArgument('dataset', `enough images for ${folds} folds and ${nVal} validation images`, n);
  return { train: subsetDataset(ds, rest.slice(nVal)), val: subsetDataset(ds, rest.slice(0, nVal)), test: subsetDataset(ds, ids.slice(start, end)) };
}

/**
 * A seeded few-shot draw: `train` training and `val` validation images taken from the shuffled images
 * (the seed study's protocol: a handful of annotated images); the rest is `rest` (unused, or a pool).
 * Draws with other seeds overlap: they are independent samples of "a user's 16 images".
 */
export function fewShotSplit(ds: CocoDataset, train: number, val: number, seed: number): Record<'train' | 'val' | 'rest', CocoDataset> {
  if (!Number.isInteger(train) || train < 1) throw invalidArgument('training image count', 'an integer >= 1', train);
  if (!Number.isInteger(val) || val < 1) throw invalidArgument('validation image count', 'an integer >= 1', val);
  if (ds.images.length < train + val) throw invalidArgument('dataset', `at least ${train + val} images for ${train} training and ${val} validation images`, ds.images.length);
  const ids = shuffledImageIds(ds, seed);
  return { train: subsetDataset(ds, ids.slice(0, train)), val: subsetDataset(ds, ids.slice(train, train + val)), rest: subsetDataset(ds, ids.slice(train + val)) };
}

/**
 * Seeded random split of the images into parts with the given fractions (e.g. {train: 0.8, val: 0.2}).
 * Images are ordered by id, shuffled with the seed (Fisher-Yates on emseg's PRNG), then cut; each part
 * gets at least one image when the fractions allow it. Same dataset and seed, same split anywhere.
 */
export function splitDataset(ds: CocoDataset, fractions: Record<string, number>, seed: number): Record<string, CocoDataset> {
  const names = Object.keys(fractions);
  const total = names.reduce((s, n) => s + fractions[n], 0);
  if (names.length < 2 || names.some((n) => !(fractions[n] > 0)) || Math.abs(total - 1) > 1e-9) {
    throw invalidArgument('split fractions', 'two or more positive fractions summing to 1', fractions);
  }
  if (ds.images.length < names.length) throw invalidArgument('dataset', `at least ${names.length} images to split`, ds.images.length);
  const ids = shuffledImageIds(ds, seed);
  // Largest-remainder rounding, then make sure no part is empty.
  const exact = names.map((n) => fractions[n] * ids.length);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; counts.reduce((s, c) => s + c, 0) < ids.length; k++) counts[order[k % order.length][1]]++;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) {
      const donor = counts.indexOf(Math.max(...counts));
      counts[donor]--;
      counts[i]++;
    }
  }
  const out: Record<string, CocoDataset> = {};
  let start = 0;
  names.forEach((n, i) => {
    out[n] = subsetDataset(ds, ids.slice(start, start + counts[i]));
    start += counts[i];
  });
  return out;
}
