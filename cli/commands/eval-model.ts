import { parseArgs } from 'node:util';
import { evaluateModelFile } from '../../sdk-node/evaluate-model.ts';
import { UsageError } from '../usage-error.ts';

export const evalModelUsage = `Usage: emseg eval-model MODEL --data ANN.json [--json] [--max-dets N]

Run an exported model (an .onnx file or a zoo name such as vesicle-large) on every image of a COCO
dataset with the Node SDK and score it: segm AP for Mask R-CNN, rbox AP for rotated detectors.
Classes are matched to categories by name. The check CI runs on every zoo model.
  --data ANN.json   COCO annotations; image paths relative to the file
  --json            {"iouType", "stats", "perClass": {"<class>": {"AP", "AP50", "AP75"}}}
  --max-dets N      detections per image scored (default 300)
  --threads N       ONNX Runtime threads`;

export async function evalModelCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { data: { type: 'string' }, json: { type: 'boolean', default: false }, 'max-dets': { type: 'string', default: '300' }, threads: { type: 'string' } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('give one MODEL (file or zoo name)');
  if (!values.data) throw new UsageError('--data ANN.json is required');
  const maxDets = Number(values['max-dets']);
  if (!(Number.isInteger(maxDets) && maxDets > 0)) throw new UsageError(`--max-dets must be a positive integer, got "${values['max-dets']}"`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError(`--threads must be a positive integer, got "${values.threads}"`);
  const { report } = await evaluateModelFile(positionals[0], values.data, { maxDets, ...(threads ? { detector: { threads } } : {}) });
  if (values.json) {
    out(JSON.stringify({ iouType: report.iouType, stats: report.stats, perClass: report.perClass }));
    return 0;
  }
  const f = (v: number): string => (v < 0 ? '  n/a' : v.toFixed(3));
  out(`${positionals[0]} on ${values.data}: ${report.images} images, ${report.detections} detections, ${report.iouType} AP ${f(report.stats.AP)} (AP50 ${f(report.stats.AP50)}, AP75 ${f(report.stats.AP75)})`);
  const width = Math.max(5, ...Object.keys(report.perClass).map((k) => k.length));
  out(`${'class'.padEnd(width)}     AP   AP50   AP75`);
  for (const [name, ap] of Object.entries(report.perClass)) out(`${name.padEnd(width)}  ${f(ap.AP)}  ${f(ap.AP50)}  ${f(ap.AP75)}`);
  return 0;
}
