#!/usr/bin/env node
import { isEmsegError } from '../core/errors.ts';
import { analyzeCommand, analyzeUsage } from './commands/analyze.ts';
import { baselineCommand, baselineUsage } from './commands/baseline.ts';
import { convertCommand, convertUsage } from './commands/convert.ts';
import { datasetCommand, datasetUsage } from './commands/dataset.ts';
import { evalCommand, evalUsage } from './commands/eval.ts';
import { evalModelCommand, evalModelUsage } from './commands/eval-model.ts';
import { infoCommand, infoUsage } from './commands/info.ts';
import { mergeCommand, mergeUsage } from './commands/merge.ts';
import { predictCommand, predictUsage } from './commands/predict.ts';
import { synthCommand, synthUsage } from './commands/synth.ts';
import { trainCommand, trainUsage } from './commands/train.ts';
import { tuneCommand, tuneUsage } from './commands/tune.ts';
import { UsageError } from './usage-error.ts';

type Command = { run: (argv: string[], out: (text: string) => void) => Promise<number>; usage: string; summary: string };

const COMMANDS: Record<string, Command> = {
  analyze: { run: analyzeCommand, usage: analyzeUsage, summary: 'detect and measure objects in many images with a zoo or .onnx model (tables, overlays, report)' },
  merge: { run: mergeCommand, usage: mergeUsage, summary: 'build the tables of a sharded analyze run (cluster array jobs) from its records' },
  eval: { run: evalCommand, usage: evalUsage, summary: 'score detections against ground truth (bbox, segm, rbox)' },
  info: { run: infoCommand, usage: infoUsage, summary: 'format, size, pixel type and calibration (nm/px) of EM images' },
  dataset: { run: datasetCommand, usage: datasetUsage, summary: 'check, summarise and split COCO datasets' },
  synth: { run: synthCommand, usage: synthUsage, summary: 'generate synthetic TEM vesicle or HAADF nanorod datasets (16-bit TIFF + COCO)' },
  train: { run: trainCommand, usage: trainUsage, summary: 'train rotated Faster R-CNN or Mask R-CNN (tfjs; wasm, or tfjs-node when installed)' },
  tune: { run: tuneCommand, usage: tuneUsage, summary: 'random-search training settings (resumable; results table and best config)' },
  predict: { run: predictCommand, usage: predictUsage, summary: 'run or evaluate a trained checkpoint with tfjs' },
  'eval-model': { run: evalModelCommand, usage: evalModelUsage, summary: 'score an exported model (file or zoo name) on a COCO dataset with the Node SDK' },
  baseline: { run: baselineCommand, usage: baselineUsage, summary: 'the Otsu + watershed floor on a COCO dataset (segm and bbox AP), for comparison with a model' },
  convert: { run: convertCommand, usage: convertUsage, summary: 'convert label images, masks, LabelImg/roLabelImg XML, Labelbox JSON to COCO' },
};

const MAIN_USAGE = `Usage: emseg <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "emseg <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const out = (text: string): void => {
    process.stdout.write(`${text}\n`);
  };
  if (!name || name === '--help' || name === '-h') {
    out(MAIN_USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`emseg: unknown command "${name}"\n\n${MAIN_USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, out);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`emseg ${name}: ${e.message}\n\n${command.usage}\n`);
      return 2;
    }
    if (isEmsegError(e)) {
      // A problem with the user's input: the message says what and where; no stack trace.
      process.stderr.write(`emseg ${name}: error ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// `emseg ... | head` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
