import { parseArgs } from 'node:util';
import { IOU_TYPES, type IouType } from '../../core/coco/types.ts';
import { evalReport, formatEvalTable } from '../../core/eval/report.ts';
import { evaluateFiles } from '../../sdk-node/evaluate-files.ts';
import { UsageError } from '../usage-error.ts';

export const evalUsage = `Usage: emseg eval --gt GT.json --dt DT.json --iou-type bbox|segm|rbox [--json] [--max-dets N]

Score COCO detections against COCO ground truth with pycocotools' COCOeval semantics.
iou-type rbox compares rotated boxes ("rbox": [cx, cy, w, h, angle_deg]) by exact polygon IoU.
  --gt FILE        ground truth: a COCO dataset
  --dt FILE        detections: a COCO results list
  --iou-type TYPE  bbox, segm or rbox
  --json           print one JSON object {iouType, stats, perCategoryAP} instead of a table
  --max-dets N     detections kept per image and category (default 100, COCO's value; EM images
                   often hold more objects). Sets the last of maxDets [1, 10, N]: AP and the "AR100"
                   stat use N, and the JSON output then carries "maxDets".`;

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
        'max-dets': { type: 'string' },
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
  let maxDets: number | undefined;
  if (values['max-dets'] !== undefined) {
    maxDets = Number(values['max-dets']);
    if (!Number.isInteger(maxDets) || maxDets < 10) throw new UsageError(`--max-dets must be an integer >= 10, received "${values['max-dets']}"`);
  }
  const result = await evaluateFiles({ gt: values.gt, dt: values.dt, iouType: iouType as IouType, maxDets });
  const report = { ...evalReport(result), ...(maxDets !== undefined && maxDets !== 100 ? { maxDets: result.params.maxDets } : {}) };
  out(values.json ? JSON.stringify(report) : formatEvalTable(result, result.categories));
  return 0;
}
