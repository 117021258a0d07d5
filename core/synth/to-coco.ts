import type { CocoAnnotation, CocoDataset, CocoImage } from '../coco/types.ts';
import { toCocoRle } from '../mask/coco-segmentation.ts';
import { rleArea, rleToBbox } from '../mask/rle.ts';
import type { CategorySpec, SynthImage } from './types.ts';

/** The COCO dataset of synthetic images: exact masks as compressed RLE, bbox from the mask, rbox for rods. */
export function synthToCoco(
  images: readonly { image: SynthImage; fileName: string }[],
  categories: readonly CategorySpec[],
  info: Record<string, unknown>,
): CocoDataset {
  const cocoImages: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  images.forEach(({ image, fileName }, i) => {
    const id = i + 1;
    cocoImages.push({ id, width: image.width, height: image.height, file_name: fileName, pixel_size_nm: image.pixelSizeNm });
    for (const obj of image.objects) {
      const ann: CocoAnnotation = {
        id: annotations.length + 1,
        image_id: id,
        category_id: obj.categoryId,
        segmentation: toCocoRle(obj.rle),
        area: rleArea(obj.rle),
        bbox: rleToBbox(obj.rle),
        iscrowd: 0,
      };
      if (obj.rbox) ann.rbox = obj.rbox.map((v) => Math.round(v * 1e4) / 1e4) as unknown as CocoAnnotation['rbox'];
      annotations.push(ann);
    }
  });
  return { info, images: cocoImages, categories: categories.map((c) => ({ ...c })), annotations };
}
