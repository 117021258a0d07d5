import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { EmsegError, isEmsegError } from '../core/errors.ts';
import { METADATA_KEYS } from '../core/inference/model-contract.ts';
import { decodeModel, encodeModel } from '../onnx/index.ts';
import { type ExportResult, type DetectorOptions, buildFromCheckpoint, exportDetector, writeModelFile } from './detector.ts';
import { readDetectorCheckpoint } from './detection/checkpoint.ts';
import { type Calibrator, quantizeModel } from './quantize.ts';

export const exportUsage = `Usage: emseg-export CHECKPOINT (also: emseg export CHECKPOINT) -o MODEL.onnx [options]
       emseg-export CHECKPOINT|MODEL.onnx --int8 --calibrate IMAGES|ANN.json -o MODEL-int8.onnx

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
  --int8                   static int8 quantization (QDQ): int8 per-channel weights and uint8
                           activations in the backbone, FPN, RPN and mask-head convolutions, ranges
                           calibrated on --calibrate images (percentile 99.999 of each activation,
                           averaged over the images); box heads, predictors, NMS and geometry stay
                           float32 (docs/model-format.md). CHECKPOINT may
                           then also be an exported .onnx model (fp32 or fp16), e.g. a zoo model
  --calibrate SPEC         calibration images for --int8: files, folders, globs or COCO .json
                           (their images); repeatable. Use images like the ones the model will see
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

interface ParsedExport {
  checkpoint: string;
  output: string;
  options: DetectorOptions;
  int8: { calibrate: string[] } | null;
}

function parse(argv: string[]): ParsedExport {
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
        int8: { type: 'boolean' },
        calibrate: { type: 'string', multiple: true },
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
  let int8: ParsedExport['int8'] = null;
  if (values.int8) {
    if (values.fp16) throw new UsageError('--int8 and --fp16 exclude each other (int8 weights are smaller still)');
    if (!values.calibrate?.length) throw new UsageError('--int8 needs --calibrate IMAGES|ANN.json: images to calibrate the activation ranges on');
    int8 = { calibrate: values.calibrate };
  } else if (values.calibrate) throw new UsageError('--calibrate is for --int8');
  return { checkpoint: positionals[0], output: values.output, options, int8 };
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

/** Calibrates an observer model on the images that --calibrate names (the CLI wires the Node SDK's). */
export type CalibrateOn = (specs: readonly string[]) => Calibrator;

/** --int8: the checkpoint's or .onnx file's model, quantized and written; the summary. */
async function exportInt8(input: string, output: string, options: DetectorOptions, specs: string[], calibrateOn: CalibrateOn | undefined): Promise<string> {
  if (!calibrateOn) throw new EmsegError('EMSEG_INVALID_ARGUMENT', '--int8 needs the Node SDK to calibrate (run emseg-export or emseg export)', {});
  const start = performance.now();
  let model;
  if (input.toLowerCase().endsWith('.onnx')) {
    const bytes = await readFile(input).catch((e: unknown) => {
      throw new EmsegError('EMSEG_FILE_READ', `${input}: cannot read the model (${(e as Error).message})`, { file: input, cause: e });
    });
    model = decodeModel(new Uint8Array(bytes), input);
  } else model = buildFromCheckpoint(await readDetectorCheckpoint(input), options);
  const q = await quantizeModel(model, calibrateOn(specs), input);
  const bytes = encodeModel(q.model);
  writeModelFile(output, bytes);
  return `wrote ${output}: ${megabytes(bytes.length)} int8 (QDQ) in ${((performance.now() - start) / 1000).toFixed(1)} s: ${q.convolutions} convolutions quantized, activation ranges calibrated on ${q.images} image${q.images === 1 ? '' : 's'}`;
}

/** `emseg-export ARGS` and `emseg export ARGS` (`prog` names the command in messages): the exit code. */
export async function exportCommand(argv: string[], prog = 'emseg-export', calibrateOn?: CalibrateOn): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${exportUsage}\n`);
    return 0;
  }
  try {
    const { checkpoint, output, options, int8 } = parse(argv);
    if (int8) {
      process.stdout.write(`${await exportInt8(checkpoint, output, options, int8.calibrate, calibrateOn)}\n`);
      return 0;
    }
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

