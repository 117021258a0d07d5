import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../sdk-node/write-file.ts';
import { evaluateBaselineFile } from '../../sdk-node/evaluate-baseline.ts';
import { UsageError } from '../usage-error.ts';

export const baselineUsage = `Usage: emseg baseline --data ANN.json [--category NAME] [--json] [--max-dets N] [--out DT.json]

The traditional floor on real data: Otsu threshold + distance-transform watershed (what a Fiji user
does: Gaussian blur sigma 1, Otsu, fill holes, h-maxima of the distance map with h = 1 px as seeds,
watershed, objects >= 10 px), run on every image of a COCO dataset and scored as segm and bbox AP on
one category (the dataset's only one unless --category names it; --category '*' scores every category
as one, class-agnostic); box-only ground truth: bbox AP only.
  --json          {"category", "images", "detections", "segm": {AP, AP50, ...} | null, "bbox": {...}, "seconds"}
  --max-dets N    detections per image scored (default 300)
  --out DT.json   also write the objects as a COCO results list (for emseg eval, or to view them)
  --foreground F  auto (default: the side of the threshold the image border is not on), dark or bright`;

export async function baselineCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: false, strict: true, options: { data: { type: 'string' }, category: { type: 'string' }, json: { type: 'boolean', default: false }, 'max-dets': { type: 'string', default: '300' }, foreground: { type: 'string', default: 'auto' }, out: { type: 'string' } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values } = parsed;
  if (!values.data) throw new UsageError('--data ANN.json is required');
  const maxDets = Number(values['max-dets']);
  if (!(Number.isInteger(maxDets) && maxDets > 0)) throw new UsageError(`--max-dets must be a positive integer, got "${values['max-dets']}"`);
  const fg = values.foreground;
  if (fg !== 'auto' && fg !== 'dark' && fg !== 'bright') throw new UsageError(`--foreground must be auto, dark or bright, got "${fg}"`);
  const r = await evaluateBaselineFile(values.data, { ...(values.category ? { category: values.category } : {}), maxDets, options: { foreground: fg } });
  const { results, ...report } = r;
  if (values.out) await writeFileAtomic(values.out, `${JSON.stringify(results)}\n`);
  if (values.json) {
    out(JSON.stringify(report));
    return 0;
  }
  const f = (v: number): string => (v < 0 ? 'n/a' : v.toFixed(3));
  out(`Otsu + watershed on ${values.data} (${r.category}): ${r.images} images, ${r.detections} objects, ${r.seconds.toFixed(1)} s`);
  if (r.segm) out(`  segm AP ${f(r.segm.AP)} (AP50 ${f(r.segm.AP50)}, AP75 ${f(r.segm.AP75)})`);
  out(`  bbox AP ${f(r.bbox.AP)} (AP50 ${f(r.bbox.AP50)}, AP75 ${f(r.bbox.AP75)})`);
  return 0;
}
