import { parseArgs } from 'node:util';
import { isEmsegError } from '../core/errors.ts';
import { METADATA_KEYS } from '../core/inference/model-contract.ts';
import { type ExportResult, type DetectorOptions, exportDetector } from './detector.ts';

export const exportUsage = `Usage: emseg-export CHECKPOINT (also: emseg export CHECKPOINT) -o MODEL.onnx [options]

Write a trained rotated detector (a checkpoint folder such as runs/NAME/checkpoints/best) as one
self-contained ONNX file: standard opset-17 ops plus the model-local function com.emseg::RotatedNMS,
so any ONNX Runtime (onnxruntime-node, onnxruntime-web, Python) runs it without plug-ins.
The model contract (inputs, outputs, normalisation, metadata) is docs/model-format.md.

Options:
  -o, --output FILE        the .onnx file to write (required)
  --opset N                standard ONNX opset (only 17 is written)
  --max-detections K       detections kept per image, the outputs' size K
                           (default: the checkpoint's test.detectionsPerImage)
  --score-threshold S      keep class scores > S (default: the checkpoint's test.scoreThreshold)
  --nms-iou T              IoU threshold of the per-class rotated NMS
                           (default: the checkpoint's test.nmsThreshold)
  --refine N               extra box-head passes on refined boxes, 0-5 (rotated detector;
                           default: the checkpoint's test.refine, else 0)
  --fp16                   store weights as float16 (half the file; detections change slightly)
  --licence TEXT           licence of the training data, for the metadata (default "unknown")
  --pixel-size-nm X        pixel size of the training data in nm, for the metadata
                           (default: the checkpoint's, else null)
  -h, --help               this text`;

class UsageError extends Error {}

function number(name: string, text: string | undefined, check: (v: number) => boolean, expected: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${expected}, got "${text}"`);
  return v;
}

function parse(argv: string[]): { checkpoint: string; output: string; options: DetectorOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        opset: { type: 'string' },
        'max-detections': { type: 'string' },
        'score-threshold': { type: 'string' },
        'nms-iou': { type: 'string' },
        refine: { type: 'string' },
        fp16: { type: 'boolean' },
        licence: { type: 'string' },
        'pixel-size-nm': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'no CHECKPOINT folder given' : `one CHECKPOINT expected, got ${positionals.length}: ${positionals.join(' ')}`);
  if (!values.output) throw new UsageError('-o MODEL.onnx is required');
  const opset = number('opset', values.opset, (v) => v === 17, '17 (the only opset emseg writes)');
  const options: DetectorOptions = {
    ...(opset === undefined ? {} : { opset }),
    maxDetections: number('max-detections', values['max-detections'], (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    scoreThreshold: number('score-threshold', values['score-threshold'], (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    nmsThreshold: number('nms-iou', values['nms-iou'], (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    refine: number('refine', values.refine, (v) => Number.isInteger(v) && v >= 0 && v <= 5, 'an integer from 0 to 5'),
    fp16: values.fp16 ?? false,
    ...(values.licence === undefined ? {} : { licence: values.licence }),
    ...(values['pixel-size-nm'] === undefined ? {} : { pixelSizeNm: number('pixel-size-nm', values['pixel-size-nm'], (v) => v > 0, 'a positive number') }),
  };
  return { checkpoint: positionals[0], output: values.output, options };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

/** The summary printed after an export. */
function formatSummary(output: string, r: ExportResult): string {
  const s = r.summary;
  const ops = Object.entries(s.ops).map(([op, n]) => `${op} ${n}`).join(', ');
  const functions = Object.entries(s.functions).map(([name, n]) => `${name} (${n} nodes)`).join(', ');
  const inference = JSON.parse(s.metadata[METADATA_KEYS.inference] ?? '{}') as { scoreThreshold?: number; nmsThreshold?: number; maxDetections?: number; boxRefinements?: number };
  return [
    `wrote ${output}: ${megabytes(r.fileBytes)} in ${r.seconds.toFixed(2)} s`,
    `parameters: ${r.parameters.toLocaleString('en-US')} (${megabytes(r.weightBytes)} as float32; file / float32 weights = ${(r.fileBytes / r.weightBytes).toFixed(3)})`,
    `inputs:  ${s.inputs.join('; ')}`,
    `outputs: ${s.outputs.join('; ')}`,
    `ops (graph and per-image Loop body): ${ops}`,
    `functions: ${functions}`,
    `classes: ${s.metadata[METADATA_KEYS.classes]}; score > ${inference.scoreThreshold}, rotated NMS IoU > ${inference.nmsThreshold}, at most ${inference.maxDetections} detections per image${inference.boxRefinements ? `; ${inference.boxRefinements} box refinement pass${inference.boxRefinements > 1 ? 'es' : ''}` : ''}`,
    `normalisation (outside the graph): ${s.metadata[METADATA_KEYS.normalization]}; pad H and W to multiples of 32`,
  ].join('\n');
}

/** `emseg-export ARGS` and `emseg export ARGS` (`prog` names the command in messages): the exit code. */
export async function exportCommand(argv: string[], prog = 'emseg-export'): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${exportUsage}\n`);
    return 0;
  }
  try {
    const { checkpoint, output, options } = parse(argv);
    const result = await exportDetector(checkpoint, output, options);
    process.stdout.write(`${formatSummary(output, result)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${prog}: ${e.message}\n\n${exportUsage}\n`);
      return 2;
    }
    if (isEmsegError(e)) {
      // A problem with the user's checkpoint or options: the message says what; no stack trace.
      process.stderr.write(`${prog}: error ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

