import { dirname, resolve } from 'node:path';
import { loadCocoDataset } from '../../core/coco/load.ts';
import type { CocoDataset } from '../../core/coco/types.ts';
import { EmsegError } from '../../core/errors.ts';
import { canonicalRotatedBox } from '../../core/geometry/rotated-box.ts';
import { DEFAULT_NORMALIZATION, normalizeImage } from '../../core/preprocess/normalize.ts';
import { readTextFile } from '../../sdk-node/read-file.ts';
import { readImage } from '../../sdk-node/read-image.ts';

/** One training image: where it is and its rotated-box targets (0-based class indices). */
export interface RboxSample {
  imageId: number;
  path: string;
  width: number;
  height: number;
  rboxes: Float32Array;
  classes: Int32Array;
}

export interface RboxDataset {
  file: string;
  coco: CocoDataset;
  /** Class names in category-id order; class index k is `categoryIds[k]`. */
  classes: string[];
  categoryIds: number[];
  samples: RboxSample[];
}

/**
 * A COCO dataset for training: parsed and validated, its classes in category-id order (or the given
 * model classes, matched by name) and the folder image paths are resolved against.
 */
export async function loadCocoForTraining(file: string, classes?: string[]): Promise<{ coco: CocoDataset; names: string[]; categoryIds: number[]; root: string }> {
  const coco = loadCocoDataset(await readTextFile(file), file);
  const cats = [...coco.categories].sort((a, b) => a.id - b.id);
  const names = classes ?? cats.map((c) => c.name);
  const categoryIds = names.map((n) => {
    const c = cats.find((x) => x.name === n);
    if (!c) throw new EmsegError('EMSEG_COCO_INVALID', `${file}: no category named "${n}" (the model's classes are ${names.join(', ')})`, { file });
    return c.id;
  });
  return { coco, names, categoryIds, root: dirname(resolve(file)) };
}

/**
 * A COCO file with `rbox` annotations as training data. Image paths are resolved against the JSON's
 * folder; crowd annotations are skipped (no rotated crowd regions in training).
 */
export async function loadRboxDataset(file: string, classes?: string[]): Promise<RboxDataset> {
  const { coco, names, categoryIds, root } = await loadCocoForTraining(file, classes);
  const samples = coco.images.map((im): RboxSample => {
    const anns = coco.annotations.filter((a) => a.image_id === im.id && !a.iscrowd && categoryIds.includes(a.category_id));
    anns.forEach((a, i) => {
      if (!a.rbox) throw new EmsegError('EMSEG_COCO_INVALID', `${file}: annotation ${a.id} (image ${im.id}, #${i}) has no "rbox"; rotated detection needs one on every object`, { file });
    });
    return {
      imageId: im.id,
      path: resolve(root, im.file_name),
      width: im.width,
      height: im.height,
      rboxes: Float32Array.from(anns.flatMap((a) => [...canonicalRotatedBox(a.rbox!)])),
      classes: Int32Array.from(anns, (a) => categoryIds.indexOf(a.category_id)),
    };
  });
  return { file, coco, classes: names, categoryIds, samples };
}

/** Read and normalise a sample's image to float32 [0, 1] (the model contract's normalisation). */
export async function loadNormalizedImage(s: { path: string; width: number; height: number }): Promise<Float32Array> {
  const im = await readImage(s.path);
  if (im.width !== s.width || im.height !== s.height) {
    throw new EmsegError('EMSEG_COCO_INVALID', `${s.path}: image is ${im.width} x ${im.height} but the annotations say ${s.width} x ${s.height}`, { file: s.path });
  }
  return normalizeImage(im, DEFAULT_NORMALIZATION).data;
}
