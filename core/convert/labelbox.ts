import { EmsegError, describeValue } from '../errors.ts';
import type { BoxXYWH } from '../geometry/types.ts';

/** One labelled image of a Labelbox (v1 JSON) export. */
export interface LabelboxImage {
  externalId: string;
  objects: { value: string; bbox: BoxXYWH }[];
  skipped: boolean;
}

/**
 * Parse a Labelbox v1 JSON export (a list of rows with `External ID` and `Label.objects[]`, each with
 * `value` (the class) and `bbox {top, left, height, width}` in pixels), as DeepSEM's exports are.
 * Rows labelled "Skip" are reported as skipped. Objects without a bbox (polygons, points) are an
 * error rather than silently dropped.
 */
export function parseLabelboxExport(value: unknown, file: string): LabelboxImage[] {
  if (!Array.isArray(value)) {
    throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: expected a Labelbox JSON export (a list of rows), received ${describeValue(value)}`, { file });
  }
  return value.map((row, i) => {
    const where = `${file}: row ${i}`;
    if (typeof row !== 'object' || row === null) throw new EmsegError('EMSEG_CONVERT_INVALID', `${where}: expected an object`, { file });
    const r = row as Record<string, unknown>;
    const externalId = r['External ID'];
    if (typeof externalId !== 'string' || !externalId) {
      throw new EmsegError('EMSEG_CONVERT_INVALID', `${where}: field "External ID": expected the image file name, received ${describeValue(externalId)}`, { file });
    }
    const label = r.Label;
    if (label === 'Skip' || label === undefined || (typeof label === 'object' && label !== null && Object.keys(label).length === 0)) {
      return { externalId, objects: [], skipped: label === 'Skip' };
    }
    if (typeof label !== 'object' || label === null) {
      throw new EmsegError('EMSEG_CONVERT_INVALID', `${where} (${externalId}): field "Label": expected an object with "objects", received ${describeValue(label)}`, { file });
    }
    const objects = ((label as Record<string, unknown>).objects ?? []) as unknown[];
    if (!Array.isArray(objects)) throw new EmsegError('EMSEG_CONVERT_INVALID', `${where} (${externalId}): "Label.objects" is not a list`, { file });
    return {
      externalId,
      skipped: false,
      objects: objects.map((o, j) => {
        const ob = (o ?? {}) as Record<string, unknown>;
        const b = ob.bbox as Record<string, unknown> | undefined;
        const cls = typeof ob.value === 'string' ? ob.value : typeof ob.title === 'string' ? ob.title : '';
        const nums = b ? [b.left, b.top, b.width, b.height] : [];
        if (!cls || nums.length !== 4 || !nums.every((n) => typeof n === 'number' && Number.isFinite(n)) || (nums[2] as number) < 0 || (nums[3] as number) < 0) {
          throw new EmsegError(
            'EMSEG_CONVERT_INVALID',
            `${where} (${externalId}): object ${j}: expected "value" and "bbox" {top, left, height, width} with finite, non-negative sizes, received ${describeValue(o)}`,
            { file },
          );
        }
        return { value: cls, bbox: nums as unknown as BoxXYWH };
      }),
    };
  });
}
