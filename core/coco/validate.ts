import { EmsegError, type EmsegErrorCode, describeValue } from '../errors.ts';
import { MAX_PIXELS } from '../formats/limits.ts';
import { type CocoSegmentation, cocoSegmentationToRle } from '../mask/coco-segmentation.ts';
import { MAX_POLYGON_COORDINATE, rleArea } from '../mask/rle.ts';
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoDetection, CocoImage, IouType } from './types.ts';

/**
 * Typed reading of COCO datasets and result lists. Every problem is reported as
 * `<file>: <record> (id N): field "<name>": expected ..., received ...` so a user can go straight to
 * the offending line. Validation is done once, here, so the evaluator can trust its inputs.
 */

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class RecordChecker {
  constructor(
    readonly file: string,
    readonly record: string,
    readonly obj: Obj,
  ) {}

  fail(field: string, expected: string, code: EmsegErrorCode = 'EMSEG_COCO_INVALID'): never {
    const where = `${this.file}: ${this.record}`;
    const received = field in this.obj ? describeValue(this.obj[field]) : 'nothing (field missing)';
    throw new EmsegError(code, `${where}: field "${field}": expected ${expected}, received ${received}`, {
      file: this.file,
      path: `${this.record}.${field}`,
    });
  }

  integer(field: string): number {
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(field, 'an integer');
    return v;
  }

  positiveInteger(field: string): number {
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(field, 'a positive integer');
    return v;
  }

  finite(field: string): number {
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'a finite number');
    return v;
  }

  string(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string') this.fail(field, 'a string');
    return v;
  }

  /** `length` finite numbers, entries listed in `nonNegative` must be >= 0. */
  numbers(field: string, length: number, what: string, nonNegative: readonly number[]): number[] {
    const v = this.obj[field];
    if (
      !Array.isArray(v) ||
      v.length !== length ||
      !v.every((x) => typeof x === 'number' && Number.isFinite(x)) ||
      nonNegative.some((i) => (v[i] as number) < 0)
    ) {
      this.fail(field, what);
    }
    return v as number[];
  }

  crowd(): 0 | 1 {
    const v = this.obj.iscrowd;
    if (v === undefined || v === 0 || v === false) return 0;
    if (v === 1 || v === true) return 1;
    this.fail('iscrowd', '0 or 1');
  }

  segmentation(height: number, width: number): CocoSegmentation {
    const v = this.obj.segmentation;
    if (Array.isArray(v)) {
      if (v.length === 0) this.fail('segmentation', 'a non-empty list of polygons');
      v.forEach((poly, i) => {
        if (
          !Array.isArray(poly) ||
          poly.length < 6 ||
          poly.length % 2 !== 0 ||
          !poly.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_POLYGON_COORDINATE)
        ) {
          this.fail('segmentation', `polygon ${i} as an even-length list of >= 6 finite numbers (3+ points) within +-${MAX_POLYGON_COORDINATE}`);
        }
      });
      return v as number[][];
    }
    if (isObj(v)) {
      const size = v.size;
      if (!Array.isArray(size) || size.length !== 2 || size[0] !== height || size[1] !== width) {
        this.fail('segmentation', `an RLE with size [${height}, ${width}] (the image's [height, width])`);
      }
      const counts = v.counts;
      if (typeof counts === 'string') return { size: [height, width], counts };
      if (Array.isArray(counts) && counts.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0)) {
        const total = (counts as number[]).reduce((a, b) => a + b, 0);
        if (total !== height * width) {
          this.fail('segmentation', `RLE counts summing to height * width = ${height * width} (they sum to ${total})`);
        }
        return { size: [height, width], counts: counts as number[] };
      }
      this.fail('segmentation', 'RLE counts as a compressed string or a list of non-negative integers');
    }
    this.fail('segmentation', 'polygons [[x0, y0, ...], ...] or an RLE {size, counts}');
  }
}

function parseArray(root: Obj, key: string, file: string, required: boolean): unknown[] {
  const v = root[key];
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) {
    throw new EmsegError(
      'EMSEG_COCO_INVALID',
      `${file}: top-level field "${key}": expected an array, received ${v === undefined ? 'nothing (field missing)' : describeValue(v)}`,
      { file, path: key },
    );
  }
  return v;
}

function recordChecker(file: string, list: string, i: number, value: unknown): RecordChecker {
  if (!isObj(value)) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${file}: ${list}[${i}]: expected an object, received ${describeValue(value)}`, {
      file,
      path: `${list}[${i}]`,
    });
  }
  const id = value.id;
  const label = typeof id === 'number' || typeof id === 'string' ? `${list}[${i}] (id ${id})` : `${list}[${i}]`;
  return new RecordChecker(file, label, value);
}

function duplicateId(file: string, list: string, i: number, id: number): never {
  throw new EmsegError('EMSEG_COCO_INVALID', `${file}: ${list}[${i}]: duplicate id ${id}`, { file, path: `${list}[${i}].id` });
}

/**
 * Validate a parsed JSON value as a COCO dataset (ground truth). Annotations may carry `bbox`,
 * `segmentation` and/or `rbox`; a missing `area` is computed from the first of segmentation
 * (mask pixel count), bbox, rbox.
 */
export function parseCocoDataset(value: unknown, file: string): CocoDataset {
  if (!isObj(value)) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${file}: expected a COCO dataset object {images, categories, annotations}, received ${describeValue(value)}`, { file });
  }
  const images: CocoImage[] = [];
  const imageById = new Map<number, CocoImage>();
  parseArray(value, 'images', file, true).forEach((raw, i) => {
    const c = recordChecker(file, 'images', i, raw);
    const image: CocoImage = {
      ...c.obj,
      id: c.integer('id'),
      width: c.positiveInteger('width'),
      height: c.positiveInteger('height'),
      file_name: c.obj.file_name === undefined ? '' : c.string('file_name'),
    };
    // Masks are run-length encoded with 32-bit runs: an image beyond emseg's largest (2^29 pixels)
    // is refused here, before any mask of it is rasterised.
    if (image.width * image.height > MAX_PIXELS) c.fail('height', `width x height at most ${MAX_PIXELS} pixels (the largest image emseg reads; width is ${image.width})`);
    if (imageById.has(image.id)) duplicateId(file, 'images', i, image.id);
    imageById.set(image.id, image);
    images.push(image);
  });

  const categories: CocoCategory[] = [];
  const categoryIds = new Set<number>();
  parseArray(value, 'categories', file, true).forEach((raw, i) => {
    const c = recordChecker(file, 'categories', i, raw);
    const category: CocoCategory = { ...c.obj, id: c.integer('id'), name: c.string('name') };
    if (categoryIds.has(category.id)) duplicateId(file, 'categories', i, category.id);
    categoryIds.add(category.id);
    categories.push(category);
  });

  const annotations: CocoAnnotation[] = [];
  const annotationIds = new Set<number>();
  parseArray(value, 'annotations', file, false).forEach((raw, i) => {
    const c = recordChecker(file, 'annotations', i, raw);
    const id = c.integer('id');
    if (annotationIds.has(id)) duplicateId(file, 'annotations', i, id);
    annotationIds.add(id);
    const imageId = c.integer('image_id');
    const image =
      imageById.get(imageId) ?? c.fail('image_id', 'the id of an image listed in "images"', 'EMSEG_COCO_UNKNOWN_IMAGE');
    const categoryId = c.integer('category_id');
    if (!categoryIds.has(categoryId)) {
      c.fail('category_id', 'the id of a category listed in "categories"', 'EMSEG_COCO_UNKNOWN_CATEGORY');
    }
    const ann: CocoAnnotation = { ...c.obj, id, image_id: imageId, category_id: categoryId, iscrowd: c.crowd(), area: 0 };
    if (c.obj.bbox !== undefined) {
      ann.bbox = c.numbers('bbox', 4, 'a box [x, y, width, height] of 4 finite numbers, width and height >= 0', [2, 3]) as unknown as CocoAnnotation['bbox'];
    }
    if (c.obj.rbox !== undefined) {
      ann.rbox = c.numbers('rbox', 5, 'a rotated box [cx, cy, w, h, angle_deg] of 5 finite numbers, w and h >= 0', [2, 3]) as unknown as CocoAnnotation['rbox'];
    }
    if (c.obj.segmentation !== undefined) ann.segmentation = c.segmentation(image.height, image.width);
    if (c.obj.area !== undefined) {
      ann.area = c.finite('area');
      if (ann.area < 0) c.fail('area', 'a non-negative number');
    } else if (ann.segmentation) {
      ann.area = rleArea(cocoSegmentationToRle(ann.segmentation, image.height, image.width, `${file}: ${c.record}.segmentation`));
    } else if (ann.bbox) {
      ann.area = ann.bbox[2] * ann.bbox[3];
    } else if (ann.rbox) {
      ann.area = ann.rbox[2] * ann.rbox[3];
    } else {
      c.fail('area', 'an area, or a bbox, rbox or segmentation to compute it from');
    }
    annotations.push(ann);
  });

  const dataset: CocoDataset = { images, categories, annotations };
  if (isObj(value.info)) dataset.info = value.info;
  if (Array.isArray(value.licenses)) dataset.licenses = value.licenses;
  return dataset;
}

const GEOMETRY_FIELD: Record<IouType, 'bbox' | 'segmentation' | 'rbox'> = {
  bbox: 'bbox',
  segm: 'segmentation',
  rbox: 'rbox',
};

/** Check that every GT annotation carries the geometry `iouType` needs. */
export function requireGeometry(dataset: CocoDataset, iouType: IouType, file: string): void {
  const field = GEOMETRY_FIELD[iouType];
  dataset.annotations.forEach((ann, i) => {
    if (ann[field] === undefined) {
      throw new EmsegError(
        'EMSEG_COCO_INVALID',
        `${file}: annotations[${i}] (id ${ann.id}): field "${field}": expected it for iouType "${iouType}", received nothing (field missing)`,
        { file, path: `annotations[${i}].${field}` },
      );
    }
  });
}

/**
 * Validate a parsed COCO results list against its ground truth: every detection names a known image
 * and category, has a finite score and the geometry `iouType` needs.
 */
export function parseCocoResults(value: unknown, file: string, gt: CocoDataset, iouType: IouType): CocoDetection[] {
  if (!Array.isArray(value)) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${file}: expected a COCO results list [{image_id, category_id, score, ...}], received ${describeValue(value)}`, { file });
  }
  const images = new Map(gt.images.map((im) => [im.id, im]));
  const categories = new Set(gt.categories.map((c) => c.id));
  return value.map((raw, i) => {
    const c = recordChecker(file, 'results', i, raw);
    const imageId = c.integer('image_id');
    const image = images.get(imageId) ?? c.fail('image_id', 'the id of an image in the ground truth', 'EMSEG_COCO_UNKNOWN_IMAGE');
    const categoryId = c.integer('category_id');
    if (!categories.has(categoryId)) {
      c.fail('category_id', 'the id of a category in the ground truth', 'EMSEG_COCO_UNKNOWN_CATEGORY');
    }
    const det: CocoDetection = { ...c.obj, image_id: imageId, category_id: categoryId, score: c.finite('score') };
    if (iouType === 'bbox' || c.obj.bbox !== undefined) {
      det.bbox = c.numbers('bbox', 4, 'a box [x, y, width, height] of 4 finite numbers, width and height >= 0', [2, 3]) as unknown as CocoDetection['bbox'];
    }
    if (iouType === 'rbox' || c.obj.rbox !== undefined) {
      det.rbox = c.numbers('rbox', 5, 'a rotated box [cx, cy, w, h, angle_deg] of 5 finite numbers, w and h >= 0', [2, 3]) as unknown as CocoDetection['rbox'];
    }
    if (iouType === 'segm' || c.obj.segmentation !== undefined) det.segmentation = c.segmentation(image.height, image.width);
    return det;
  });
}
