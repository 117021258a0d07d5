#!/usr/bin/env node
import { isEmsegError } from '../core/errors.ts';
import { UsageError } from './usage-error.ts';

type Command = { run: (argv: string[], out: (text: string) => void) => Promise<number>; usage: string };

/**
 * Commands by name, each loaded only when it runs (`emseg --help` and `emseg info` never load tfjs or
 * the exporter); the summaries live here so the main usage needs no command module.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  analyze: { summary: 'detect and measure objects in many images with a zoo or .onnx model (tables, overlays, report)', load: async () => { const m = await import('./commands/analyze.ts'); return { run: m.analyzeCommand, usage: m.analyzeUsage }; } },
  merge: { summary: 'build the tables of a sharded analyze run (cluster array jobs) from its records', load: async () => { const m = await import('./commands/merge.ts'); return { run: m.mergeCommand, usage: m.mergeUsage }; } },
  eval: { summary: 'score detections against ground truth (bbox, segm, rbox)', load: async () => { const m = await import('./commands/eval.ts'); return { run: m.evalCommand, usage: m.evalUsage }; } },
  info: { summary: 'format, size, pixel type and calibration (nm/px) of EM images', load: async () => { const m = await import('./commands/info.ts'); return { run: m.infoCommand, usage: m.infoUsage }; } },
  dataset: { summary: 'check, summarise and split COCO datasets', load: async () => { const m = await import('./commands/dataset.ts'); return { run: m.datasetCommand, usage: m.datasetUsage }; } },
  synth: { summary: 'generate synthetic TEM vesicle or HAADF nanorod datasets (16-bit TIFF + COCO)', load: async () => { const m = await import('./commands/synth.ts'); return { run: m.synthCommand, usage: m.synthUsage }; } },
  train: { summary: 'train rotated Faster R-CNN or Mask R-CNN (tfjs; wasm, or tfjs-node when installed)', load: async () => { const m = await import('./commands/train.ts'); return { run: m.trainCommand, usage: m.trainUsage }; } },
  tune: { summary: 'random-search training settings (resumable; results table and best config)', load: async () => { const m = await import('./commands/tune.ts'); return { run: m.tuneCommand, usage: m.tuneUsage }; } },
  predict: { summary: 'run or evaluate a trained checkpoint with tfjs', load: async () => { const m = await import('./commands/predict.ts'); return { run: m.predictCommand, usage: m.predictUsage }; } },
  export: { summary: 'write a trained checkpoint as a self-contained ONNX model (= emseg-export)', load: async () => { const m = await import('../export/command.ts'); const { calibrateOn } = await import('./calibrate-on.ts'); return { run: (argv) => m.exportCommand(argv, 'emseg export', calibrateOn), usage: m.exportUsage }; } },
  'eval-model': { summary: 'score an exported model (file or zoo name) on a COCO dataset with the Node SDK', load: async () => { const m = await import('./commands/eval-model.ts'); return { run: m.evalModelCommand, usage: m.evalModelUsage }; } },
  baseline: { summary: 'the Otsu + watershed floor on a COCO dataset (segm and bbox AP), for comparison with a model', load: async () => { const m = await import('./commands/baseline.ts'); return { run: m.baselineCommand, usage: m.baselineUsage }; } },
  convert: { summary: 'convert label images, masks, LabelImg/roLabelImg XML, Labelbox JSON to COCO', load: async () => { const m = await import('./commands/convert.ts'); return { run: m.convertCommand, usage: m.convertUsage }; } },
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
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    process.stderr.write(`emseg: unknown command "${name}"\n\n${MAIN_USAGE}\n`);
    return 2;
  }
  const command = await entry.load();
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
