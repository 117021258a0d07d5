import { resolve } from 'node:path';
import type { CocoDataset } from '../../core/coco/types.ts';
import { EmsegError } from '../../core/errors.ts';
import { cocoSegmentationToRle } from '../../core/mask/coco-segmentation.ts';
import { decodeRle, rleToBbox } from '../../core/mask/rle.ts';
import { seededRandom } from '../../core/random.ts';
import { type AugmentOptions, type Dihedral, drawDihedral, geometricImage, intensityAugment, transformImage } from './augment.ts';
import { drawWarp, warpMaskCrop } from './affine.ts';
import { loadCocoForTraining } from './dataset.ts';

/** An instance mask kept as its bounding-box crop (a full-size bitmap per object would not fit). */
export interface MaskCrop {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Uint8Array;
}

export interface InstanceSample {
  imageId: number;
  path: string;
  width: number;
  height: number;
  /** xyxy per object, from the mask. */
  boxes: Float32Array;
  classes: Int32Array;
  masks: MaskCrop[];
}

export interface InstanceDataset {
  file: string;
  coco: CocoDataset;
  classes: string[];
  categoryIds: number[];
  samples: InstanceSample[];
}

/** A COCO file with segmentation masks as Mask R-CNN training data (crowd regions skipped). */
export async function loadInstanceDataset(file: string, classes?: string[]): Promise<InstanceDataset> {
  const { coco, names, categoryIds, root } = await loadCocoForTraining(file, classes);
  const samples = coco.images.map((im): InstanceSample => {
    const anns = coco.annotations.filter((a) => a.image_id === im.id && !a.iscrowd && categoryIds.includes(a.category_id));
    const masks: MaskCrop[] = [];
    const boxes: number[] = [];
    const cls: number[] = [];
    for (const a of anns) {
      if (!a.segmentation) throw new EmsegError('EMSEG_COCO_INVALID', `${file}: annotation ${a.id} has no segmentation; instance segmentation needs masks`, { file });
      const rle = cocoSegmentationToRle(a.segmentation, im.height, im.width, `${file}: annotation ${a.id}`);
      const [x, y, w, h] = rleToBbox(rle);
      if (w === 0 || h === 0) continue;
      const full = decodeRle(rle);
      const data = new Uint8Array(w * h);
      for (let j = 0; j < h; j++) data.set(full.subarray((y + j) * im.width + x, (y + j) * im.width + x + w), j * w);
      masks.push({ x0: x, y0: y, w, h, data });
      boxes.push(x, y, x + w, y + h);
      cls.push(categoryIds.indexOf(a.category_id));
    }
    return { imageId: im.id, path: resolve(root, im.file_name), width: im.width, height: im.height, boxes: Float32Array.from(boxes), classes: Int32Array.from(cls), masks };
  });
  return { file, coco, classes: names, categoryIds, samples };
}

/** A mask crop under the dihedral transform of its W x H image. */
export function transformCrop(c: MaskCrop, W: number, H: number, t: Dihedral): MaskCrop {
  const moved = transformImage(c.data, c.w, c.h, t);
  let { x0, y0 } = c;
  let w = W, h = H;
  let cw = c.w, ch = c.h;
  if (t.transpose) {
    [x0, y0] = [y0, x0];
    [w, h] = [h, w];
    [cw, ch] = [ch, cw];
  }
  if (t.flipX) x0 = w - (x0 + cw);
  if (t.flipY) y0 = h - (y0 + ch);
  return { x0, y0, w: moved.width, h: moved.height, data: moved.data };
}

/** Box (xyxy) of a mask crop. */
function cropBox(c: MaskCrop): [number, number, number, number] {
  return [c.x0, c.y0, c.x0 + c.w, c.y0 + c.h];
}

/**
 * One Mask R-CNN training input: the image and its masks under the same seeded augmentation (dihedral,
 * warp, intensity; the random draws in the order `augment` makes them). Boxes are recomputed from the
 * moved masks (a rotated box's corners would overstate them); objects with almost no pixels left on
 * the canvas are dropped.
 */
export function augmentInstances(img: Float32Array, s: InstanceSample, seed: number, o: AugmentOptions): { data: Float32Array; width: number; height: number; boxes: Float32Array; classes: Int32Array; masks: MaskCrop[] } {
  const rand = seededRandom(seed);
  const t = drawDihedral(rand, o.geometric);
  const moved = transformImage(img, s.width, s.height, t);
  const warp = o.warp ? drawWarp(rand, moved.width, moved.height, o.warp) : null;
  const data = geometricImage(img, moved.data, warp);
  let masks = s.masks.map((m) => transformCrop(m, s.width, s.height, t));
  let classes = s.classes;
  if (warp) {
    const warped = masks.map((m) => warpMaskCrop(m, warp));
    classes = Int32Array.from(warped.flatMap((m, i) => (m ? [s.classes[i]] : [])));
    masks = warped.filter((m): m is MaskCrop => m !== null);
  }
  intensityAugment(data, moved.width, moved.height, rand, o.strength);
  return { data, width: moved.width, height: moved.height, boxes: Float32Array.from(masks.flatMap(cropBox)), classes, masks };
}

/**
 * Mask R-CNN target of one positive RoI: the GT mask resampled on a `size` x `size` grid over the
 * box (bilinear at each cell's 2 x 2 sample points, averaged), then >= 0.5, as detectron2 crops and
 * resizes the GT bitmask with RoIAlign; with `soft`, the averaged coverage itself.
 */
export function maskTarget(c: MaskCrop, box: ArrayLike<number>, o: number, size: number, out: Float32Array, at: number, soft = false): void {
  const x1 = box[o], y1 = box[o + 1], bw = (box[o + 2] - x1) / size, bh = (box[o + 3] - y1) / size;
  const sample = (x: number, y: number): number => {
    // Pixel centres at +0.5: continuous position -> crop coordinates.
    const u = x - 0.5 - c.x0, v = y - 0.5 - c.y0;
    const u0 = Math.floor(u), v0 = Math.floor(v);
    const fu = u - u0, fv = v - v0;
    const px = (i: number, j: number) => (i >= 0 && j >= 0 && i < c.w && j < c.h ? c.data[j * c.w + i] : 0);
    return (1 - fu) * (1 - fv) * px(u0, v0) + fu * (1 - fv) * px(u0 + 1, v0) + (1 - fu) * fv * px(u0, v0 + 1) + fu * fv * px(u0 + 1, v0 + 1);
  };
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let acc = 0;
      for (let sy = 0; sy < 2; sy++) for (let sx = 0; sx < 2; sx++) acc += sample(x1 + (i + (sx + 0.5) / 2) * bw, y1 + (j + (sy + 0.5) / 2) * bh);
      out[at + j * size + i] = soft ? acc / 4 : acc / 4 >= 0.5 ? 1 : 0;
    }
  }
}
