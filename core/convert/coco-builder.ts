import type { CocoAnnotation, CocoCategory, CocoDataset, CocoImage } from '../coco/types.ts';
import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';
import { toCocoRle } from '../mask/coco-segmentation.ts';
import type { Rle } from '../mask/rle.ts';

export interface BuilderObject {
  category: string;
  bbox: BoxXYWH;
  area?: number;
  rle?: Rle;
  rbox?: RotatedBox;
  iscrowd?: 0 | 1;
  /** Extra fields kept on the annotation (e.g. VOC's `difficult`). */
  extra?: Record<string, unknown>;
}

/**
 * Accumulates images and objects into a COCO dataset: ids from 1, categories by name (in the order
 * given up front, then first appearance), areas from the mask, else the rotated box, else the box.
 */
export class CocoBuilder {
  private readonly images: CocoImage[] = [];
  private readonly annotations: CocoAnnotation[] = [];
  private readonly categories = new Map<string, number>();

  constructor(categoryNames: readonly string[] = [], private readonly info: Record<string, unknown> = {}) {
    for (const name of categoryNames) this.categoryId(name);
  }

  private categoryId(name: string): number {
    let id = this.categories.get(name);
    if (id === undefined) {
      id = this.categories.size + 1;
      this.categories.set(name, id);
    }
    return id;
  }

  addImage(fileName: string, width: number, height: number, extra: Record<string, unknown> = {}): number {
    const id = this.images.length + 1;
    this.images.push({ ...extra, id, width, height, file_name: fileName });
    return id;
  }

  addObject(imageId: number, obj: BuilderObject): void {
    const ann: CocoAnnotation = {
      ...obj.extra,
      id: this.annotations.length + 1,
      image_id: imageId,
      category_id: this.categoryId(obj.category),
      bbox: obj.bbox,
      area: obj.area ?? (obj.rbox ? obj.rbox[2] * obj.rbox[3] : obj.bbox[2] * obj.bbox[3]),
      iscrowd: obj.iscrowd ?? 0,
    };
    if (obj.rle) ann.segmentation = toCocoRle(obj.rle);
    if (obj.rbox) ann.rbox = obj.rbox;
    this.annotations.push(ann);
  }

  build(): CocoDataset {
    const categories: CocoCategory[] = [...this.categories].map(([name, id]) => ({ id, name }));
    return { info: this.info, images: this.images, categories, annotations: this.annotations };
  }
}
