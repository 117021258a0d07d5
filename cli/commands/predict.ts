import { parseArgs } from 'node:util';
import { evalReport } from '../../core/eval/report.ts';
import type { BackendChoice } from '../../training/backend/select-backend.ts';
import { evaluateModel, loadTrainedModel, predictFile } from '../../training/predict.ts';
import { UsageError } from '../usage-error.ts';

export const predictUsage = `Usage: emseg predict CHECKPOINT_DIR IMAGE... [--json] | emseg predict CHECKPOINT_DIR --data ANN.json [--max-dets N]

Run a trained checkpoint (runs/NAME/checkpoints/best) with tfjs, the reference the exported ONNX
models are checked against. With images: one result per image {file, width, height, pixelSize,
instances: [{label, score, box, rbox}]}. With --data: rbox COCO evaluation on that dataset as JSON.
  --backend B   auto, wasm, cpu, tensorflow (default auto)
  --refine N    extra box-head passes on refined boxes, 0-5 (rotated detector; default: the
                checkpoint's test.refine, else 0)`;

export async function predictCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, data: { type: 'string' }, 'max-dets': { type: 'string', default: '300' }, backend: { type: 'string', default: 'auto' }, refine: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [checkpoint, ...images] = positionals;
  if (!checkpoint) throw new UsageError('give a checkpoint folder');
  const refine = values.refine === undefined ? undefined : Number(values.refine);
  if (refine !== undefined && !(Number.isInteger(refine) && refine >= 0 && refine <= 5)) throw new UsageError(`--refine must be an integer from 0 to 5, got "${values.refine}"`);
  const model = await loadTrainedModel(checkpoint, values.backend as BackendChoice);
  if (refine !== undefined) {
    if (refine > 0 && model.config.task !== 'rotated-detection') throw new UsageError('--refine applies to rotated detectors only');
    model.config.test = { ...model.config.test, refine };
  }
  if (values.data) {
    const result = await evaluateModel(model, values.data, Number(values['max-dets']));
    out(JSON.stringify(evalReport(result)));
    return 0;
  }
  if (images.length === 0) throw new UsageError('give images or --data ANN.json');
  const results = [];
  for (const file of images) results.push({ file, ...(await predictFile(model, file)) });
  out(values.json ? JSON.stringify(results) : results.map((r) => `${r.file}: ${r.instances.length} objects`).join('\n'));
  return 0;
}
