import { EmsegError } from '../errors.ts';
import { MAX_POLYGON_COORDINATE, type Rle, rleFromPolygon, rleMerge } from './rle.ts';
import { rleCountsFromString, rleCountsToString } from './rle-string.ts';

/** COCO RLE as stored in JSON: `counts` compressed (string) or uncompressed (number array). */
export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}

/** A COCO `segmentation` field: polygons `[[x0, y0, x1, y1, ...], ...]` or an RLE object. */
export type CocoSegmentation = number[][] | CocoRle;

export function isCocoRle(seg: unknown): seg is CocoRle {
  return typeof seg === 'object' && seg !== null && !Array.isArray(seg) && 'counts' in seg && 'size' in seg;
}

/** Compressed COCO RLE (`counts` as a string), the form pycocotools writes. */
export function toCocoRle(rle: Rle): CocoRle {
  return { size: [rle.height, rle.width], counts: rleCountsToString(rle.counts) };
}

/**
 * Any COCO segmentation to one RLE at the image size, as pycocotools' `annToRLE` does: polygons are
 * rasterised one by one and merged (union); RLE must match the image size and cover it exactly.
 * `where` names the record in errors, e.g. `gt.json: annotations[4] (id 17).segmentation`.
 */
export function cocoSegmentationToRle(seg: CocoSegmentation, height: number, width: number, where: string): Rle {
  if (Array.isArray(seg)) {
    if (seg.length === 0) throw new EmsegError('EMSEG_RLE_INVALID', `${where}: empty polygon list`);
    const parts = seg.map((poly, i) => {
      if (!Array.isArray(poly) || poly.length < 6 || poly.length % 2 !== 0 || !poly.every((c) => Number.isFinite(c) && Math.abs(c) <= MAX_POLYGON_COORDINATE)) {
        throw new EmsegError(
          'EMSEG_RLE_INVALID',
          `${where}[${i}]: expected a polygon of at least 3 points as an even-length list of finite numbers within +-${MAX_POLYGON_COORDINATE}`,
        );
      }
      return rleFromPolygon(poly, height, width);
    });
    return rleMerge(parts);
  }
  const [h, w] = seg.size;
  if (h !== height || w !== width) {
    throw new EmsegError(
      'EMSEG_RLE_INVALID',
      `${where}: RLE size [${h}, ${w}] does not match the image size [${height}, ${width}]`,
    );
  }
  const counts =
    typeof seg.counts === 'string' ? rleCountsFromString(seg.counts, where) : Uint32Array.from(seg.counts);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total !== h * w) {
    throw new EmsegError(
      'EMSEG_RLE_INVALID',
      `${where}: RLE counts cover ${total} pixels but the image has ${h} x ${w} = ${h * w}`,
    );
  }
  return { height: h, width: w, counts };
}
