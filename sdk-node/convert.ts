import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { parseJsonText } from '../core/coco/json.ts';
import type { CocoDataset } from '../core/coco/types.ts';
import { CocoBuilder } from '../core/convert/coco-builder.ts';
import { connectedComponents, labelMapToInstances } from '../core/convert/instances.ts';
import { parseLabelboxExport } from '../core/convert/labelbox.ts';
import { parseVocXml } from '../core/convert/voc-xml.ts';
import { EmsegError } from '../core/errors.ts';
import { decodeWithSharp } from './decode-with-sharp.ts';
import { readTextFile } from './read-file.ts';

/** Turns annotation files of other tools into COCO datasets (Node side: finds and reads files). */

const IMAGE_EXT = new Set(['.png', '.tif', '.tiff', '.jpg', '.jpeg', '.bmp', '.dm3', '.dm4', '.mrc', '.ser', '.emd']);

async function listFiles(dir: string, exts: Set<string>): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    throw new EmsegError('EMSEG_FILE_READ', `${dir}: cannot list folder: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (e as Error).message}`, { file: dir, cause: e });
  }
  return entries.filter((f) => exts.has(extname(f).toLowerCase())).sort().map((f) => join(dir, f));
}

/** Optional restriction to some file names: a JSON list (e.g. EMPS rodlike_train_images.json) or one name per line. */
export async function readNameList(path: string): Promise<Set<string>> {
  const text = await readTextFile(path);
  const trimmed = text.trim();
  const names = trimmed.startsWith('[') ? (parseJsonText(trimmed, path) as unknown[]).map(String) : trimmed.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  return new Set(names.map((n) => basename(n)));
}

const stem = (p: string) => basename(p, extname(p));

async function readLabelImage(path: string) {
  const bytes = await readFile(path);
  const image = await decodeWithSharp(bytes, path, extname(path).slice(1).toUpperCase());
  return image;
}

export interface MaskConversionOptions {
  images: string;
  /** Folder of label images (instance ids) or binary masks, matched to images by file stem. */
  masks: string;
  out: string;
  category: string;
  /** 'labelmap': pixel value = instance id; 'binary': connected components of non-zero pixels. */
  kind: 'labelmap' | 'binary';
  minArea?: number;
  rbox?: boolean;
  only?: Set<string>;
  info?: Record<string, unknown>;
}

export async function convertMasks(o: MaskConversionOptions): Promise<CocoDataset> {
  const images = await listFiles(o.images, IMAGE_EXT);
  const masks = new Map((await listFiles(o.masks, IMAGE_EXT)).map((m) => [stem(m), m]));
  const builder = new CocoBuilder([o.category], o.info ?? {});
  const outDir = dirname(resolve(o.out));
  let used = 0;
  for (const imagePath of images) {
    if (o.only && !o.only.has(basename(imagePath))) continue;
    const maskPath = masks.get(stem(imagePath));
    if (!maskPath) throw new EmsegError('EMSEG_FILE_READ', `${imagePath}: no mask with the same name in ${o.masks}`, { file: imagePath });
    const mask = await readLabelImage(maskPath);
    const meta = await sharp(imagePath).metadata().catch((e: unknown) => {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${imagePath}: cannot read image: ${(e as Error).message}`, { file: imagePath });
    });
    if (meta.width !== mask.width || meta.height !== mask.height) {
      throw new EmsegError('EMSEG_CONVERT_INVALID', `${maskPath}: mask is ${mask.width} x ${mask.height} but its image ${imagePath} is ${meta.width} x ${meta.height}`, { file: maskPath });
    }
    const labels = o.kind === 'binary' ? connectedComponents(mask.data, mask.width, mask.height).labels : mask.data;
    const instances = labelMapToInstances(labels, mask.width, mask.height, { minArea: o.minArea, rbox: o.rbox });
    const imageId = builder.addImage(relative(outDir, resolve(imagePath)), mask.width, mask.height);
    for (const inst of instances) builder.addObject(imageId, { category: o.category, bbox: inst.bbox, area: inst.area, rle: inst.rle, rbox: inst.rbox });
    used++;
  }
  if (used === 0) throw new EmsegError('EMSEG_CONVERT_INVALID', `${o.images}: no images to convert${o.only ? ' (none matched the list)' : ''}`, { file: o.images });
  return builder.build();
}

/** LabelImg (Pascal VOC) and roLabelImg XML files or folders of them; images are looked up beside each XML. */
export async function convertVoc(inputs: string[], out: string, info: Record<string, unknown> = {}): Promise<CocoDataset> {
  const files: string[] = [];
  for (const input of inputs) {
    const s = await stat(input).catch(() => null);
    if (!s) throw new EmsegError('EMSEG_FILE_READ', `${input}: cannot read: no such file or folder`, { file: input });
    if (s.isDirectory()) files.push(...(await listFiles(input, new Set(['.xml']))));
    else files.push(input);
  }
  if (files.length === 0) throw new EmsegError('EMSEG_CONVERT_INVALID', `${inputs.join(', ')}: no XML files found`);
  const builder = new CocoBuilder([], info);
  const outDir = dirname(resolve(out));
  for (const file of files) {
    const ann = parseVocXml(await readTextFile(file), file);
    const imagePath = resolve(dirname(file), ann.fileName || `${stem(file)}.png`);
    const imageId = builder.addImage(relative(outDir, imagePath), ann.width, ann.height);
    for (const obj of ann.objects) builder.addObject(imageId, { category: obj.name, bbox: obj.bbox, rbox: obj.rbox, extra: obj.difficult ? { difficult: 1 } : undefined });
  }
  return builder.build();
}

/** A Labelbox v1 JSON export; image sizes are read from the images in `imagesDir`. */
export async function convertLabelbox(exportFile: string, imagesDir: string, out: string, info: Record<string, unknown> = {}): Promise<CocoDataset> {
  const rows = parseLabelboxExport(parseJsonText(await readTextFile(exportFile), exportFile), exportFile);
  const builder = new CocoBuilder([], info);
  const outDir = dirname(resolve(out));
  for (const row of rows) {
    if (row.skipped) continue;
    const imagePath = join(imagesDir, row.externalId);
    const meta = await sharp(imagePath).metadata().catch((e: unknown) => {
      throw new EmsegError('EMSEG_FILE_READ', `${exportFile}: image "${row.externalId}" not readable in ${imagesDir}: ${(e as Error).message}`, { file: imagePath });
    });
    const imageId = builder.addImage(relative(outDir, resolve(imagePath)), meta.width!, meta.height!);
    for (const obj of row.objects) {
      const [x, y, w, h] = obj.bbox;
      if (x < 0 || y < 0 || x + w > meta.width! || y + h > meta.height!) {
        throw new EmsegError('EMSEG_CONVERT_INVALID', `${exportFile}: ${row.externalId}: box [${obj.bbox.join(', ')}] lies outside the ${meta.width} x ${meta.height} image`, { file: exportFile });
      }
      builder.addObject(imageId, { category: obj.value, bbox: obj.bbox });
    }
  }
  return builder.build();
}
