import { parseArgs } from 'node:util';
import { stringifyCoco } from '../../core/coco/load.ts';
import type { CocoDataset } from '../../core/coco/types.ts';
import { convertLabelbox, convertMasks, convertVoc, readNameList } from '../../sdk-node/convert.ts';
import { writeFileAtomic } from '../../sdk-node/write-file.ts';
import { UsageError } from '../usage-error.ts';

export const convertUsage = `Usage: emseg convert <kind> ... --out ANN.json

Convert annotations to a COCO dataset (file_name paths are relative to ANN.json's folder).
  emseg convert labelmap --images DIR --masks DIR --out ANN.json [--category NAME] [--rbox] [--min-area N] [--only LIST]
      instance-id label images (0 = background, k = instance k), matched to images by file name
  emseg convert masks --images DIR --masks DIR --out ANN.json [--category NAME] [--rbox] [--min-area N] [--only LIST]
      binary masks: each 8-connected component is an instance
  emseg convert voc XML|DIR... --out ANN.json [--rbox]
      LabelImg (Pascal VOC) and roLabelImg XML; roLabelImg's robndbox angle (radians, clockwise on
      screen) becomes rbox [cx, cy, w, h, -angle in degrees] (counter-clockwise, detectron2 XYWHA)
  emseg convert labelbox EXPORT.json --images DIR --out ANN.json [--rbox]
      Labelbox v1 JSON export with bounding boxes
Options:
  --rbox        also fit each mask's minimum-area rotated box ("rbox"), for rods; for box-only
                annotations (voc, labelbox) an axis-aligned rbox [cx, cy, w, h, 0] for every box that
                has none, so box datasets train the rotated detector (--task rotated-detection)
  --only LIST   convert only the images named in LIST (a JSON list or one name per line)
  --min-area N  drop instances smaller than N pixels (default 1)`;

export async function convertCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const [kind, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        images: { type: 'string' },
        masks: { type: 'string' },
        out: { type: 'string' },
        category: { type: 'string', default: 'object' },
        rbox: { type: 'boolean', default: false },
        'min-area': { type: 'string' },
        only: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (!values.out) throw new UsageError('missing --out ANN.json');
  const minArea = values['min-area'] === undefined ? undefined : Number(values['min-area']);
  if (minArea !== undefined && !(Number.isInteger(minArea) && minArea >= 1)) throw new UsageError(`--min-area must be a positive integer, received "${values['min-area']}"`);
  const info = { description: `converted by emseg convert ${kind}`, source: positionals.length ? positionals : [values.images, values.masks].filter(Boolean) };
  let dataset: CocoDataset;
  if (kind === 'labelmap' || kind === 'masks') {
    if (!values.images || !values.masks) throw new UsageError(`convert ${kind} needs --images DIR and --masks DIR`);
    dataset = await convertMasks({
      images: values.images,
      masks: values.masks,
      out: values.out,
      category: values.category,
      kind: kind === 'labelmap' ? 'labelmap' : 'binary',
      minArea,
      rbox: values.rbox,
      only: values.only ? await readNameList(values.only) : undefined,
      info,
    });
  } else if (kind === 'voc' || kind === 'rolabelimg') {
    if (positionals.length === 0) throw new UsageError('convert voc needs XML files or folders');
    dataset = await convertVoc(positionals, values.out, info);
  } else if (kind === 'labelbox') {
    if (positionals.length !== 1 || !values.images) throw new UsageError('convert labelbox needs one EXPORT.json and --images DIR');
    dataset = await convertLabelbox(positionals[0], values.images, values.out, info);
  } else {
    throw new UsageError(`unknown kind "${kind ?? ''}": expected labelmap, masks, voc or labelbox`);
  }
  if (values.rbox && (kind === 'voc' || kind === 'labelbox')) dataset = withAxisAlignedRboxes(dataset);
  await writeFileAtomic(values.out, `${stringifyCoco(dataset)}\n`);
  out(`wrote ${values.out}: ${dataset.images.length} images, ${dataset.annotations.length} annotations, categories ${dataset.categories.map((c) => c.name).join(', ')}`);
  return 0;
}

/** Boxes without an rbox get the axis-aligned one, [cx, cy, w, h, 0] (detectron2 XYWHA). */
function withAxisAlignedRboxes(ds: CocoDataset): CocoDataset {
  return {
    ...ds,
    annotations: ds.annotations.map((a) => {
      if (a.rbox || !a.bbox) return a;
      const [x, y, w, h] = a.bbox;
      return { ...a, rbox: [x + w / 2, y + h / 2, w, h, 0] };
    }),
  };
}
