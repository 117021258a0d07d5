import { join } from 'node:path';
import { stringifyCoco } from '../core/coco/load.ts';
import type { CocoDataset } from '../core/coco/types.ts';
import { encodeTiff } from '../core/formats/tiff-write.ts';
import { seededRandom } from '../core/random.ts';
import { HAADF_CATEGORIES, type HaadfRodOptions, generateHaadfNanorods } from '../core/synth/haadf-nanorods.ts';
import { TEM_CATEGORIES, type TemVesicleOptions, generateTemVesicles } from '../core/synth/tem-vesicles.ts';
import { synthToCoco } from '../core/synth/to-coco.ts';
import type { SynthImage } from '../core/synth/types.ts';
import { writeFileAtomic } from './write-file.ts';

export type SynthKind = 'tem-vesicles' | 'haadf-nanorods';

export interface SynthDatasetOptions {
  kind: SynthKind;
  count: number;
  seed: number;
  size: number;
  out: string;
  tem?: Omit<TemVesicleOptions, 'size'>;
  haadf?: Omit<HaadfRodOptions, 'size'>;
}

/**
 * Seed of image `index` in a run seeded `seed` (splitmix32 mixing): each image has its own stream,
 * so image k is the same whatever `count` is, and runs with nearby seeds do not share images.
 */
export function imageSeed(seed: number, index: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

export function generateSynthImage(o: Pick<SynthDatasetOptions, 'kind' | 'seed' | 'size' | 'tem' | 'haadf'>, index: number): SynthImage {
  const rand = seededRandom(imageSeed(o.seed, index));
  return o.kind === 'tem-vesicles' ? generateTemVesicles(rand, { ...o.tem, size: o.size }) : generateHaadfNanorods(rand, { ...o.haadf, size: o.size });
}

/**
 * Write `count` synthetic images as 16-bit TIFF (ImageJ-style calibration in nm) to `out/images/`
 * and their COCO ground truth to `out/annotations.json`. Same options, same bytes on any machine.
 */
export async function writeSynthDataset(o: SynthDatasetOptions, onImage?: (i: number) => void): Promise<CocoDataset> {
  const images: { image: SynthImage; fileName: string }[] = [];
  for (let i = 0; i < o.count; i++) {
    const image = generateSynthImage(o, i);
    const fileName = `images/${o.kind}-${String(i).padStart(4, '0')}.tif`;
    await writeFileAtomic(join(o.out, fileName), encodeTiff({ width: image.width, height: image.height, dtype: 'uint16', data: image.data, pixelSize: { x: image.pixelSizeNm, y: image.pixelSizeNm } }));
    // Keep only what the annotations need: pixels are on disk.
    images.push({ image: { ...image, data: new Uint16Array(0) }, fileName });
    onImage?.(i);
  }
  const categories = o.kind === 'tem-vesicles' ? TEM_CATEGORIES : HAADF_CATEGORIES;
  const info = { description: `emseg synthetic ${o.kind}`, generator: `emseg synth ${o.kind}`, seed: o.seed, size: o.size, count: o.count, ...(o.tem ? { options: o.tem } : o.haadf ? { options: o.haadf } : {}) };
  const dataset = synthToCoco(images, categories, info);
  await writeFileAtomic(join(o.out, 'annotations.json'), `${stringifyCoco(dataset)}\n`);
  return dataset;
}
