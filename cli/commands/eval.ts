import { parseArgs } from 'node:util';
import { IOU_TYPES, type IouType } from '../../core/coco/types.ts';
import { evalReport, formatEvalTable } from '../../core/eval/report.ts';
import { evaluateFiles } from '../../sdk-node/evaluate-files.ts';
import { UsageError } from '../usage-error.ts';

export const evalUsage = `Usage: emseg eval --gt GT.json --dt DT.json --iou-type bbox|segm|rbox [--json]

Score COCO detections against COCO ground truth with pycocotools' COCOeval semantics.
iou-type rbox compares rotated boxes ("rbox": [cx, cy, w, h, angle_deg]) by exact polygon IoU.
  --gt FILE        ground truth: a COCO dataset
  --dt FILE        detections: a COCO results list
  --iou-type TYPE  bbox, segm or rbox
  --json           print one JSON object {iouType, stats, perCategoryAP} instead of a table`;

export async function evalCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        gt: { type: 'string' },
        dt: { type: 'string' },
        'iou-type': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!values.gt) throw new UsageError('missing --gt GT.json');
  if (!values.dt) throw new UsageError('missing --dt DT.json');
  const iouType = values['iou-type'];
  if (!iouType) throw new UsageError('missing --iou-type bbox|segm|rbox');
  if (!(IOU_TYPES as readonly string[]).includes(iouType)) {
    throw new UsageError(`--iou-type must be one of ${IOU_TYPES.join(', ')}, received "${iouType}"`);
  }
  const result = await evaluateFiles({ gt: values.gt, dt: values.dt, iouType: iouType as IouType });
  out(values.json ? JSON.stringify(evalReport(result)) : formatEvalTable(result, result.categories));
  return 0;
}
