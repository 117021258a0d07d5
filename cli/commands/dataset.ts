import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkDataset, crossValidationSplit, datasetStats, fewShotSplit, splitDataset } from '../../core/coco/dataset-tools.ts';
import { loadCocoDataset, stringifyCoco } from '../../core/coco/load.ts';
import type { CocoDataset } from '../../core/coco/types.ts';
import { readTextFile } from '../../sdk-node/read-file.ts';
import { writeFileAtomic } from '../../sdk-node/write-file.ts';
import { UsageError } from '../usage-error.ts';

export const datasetUsage = `Usage: emseg dataset <check|stats|split> ANN.json [options]

  emseg dataset check ANN.json [--json]
      validate a COCO dataset: every record and field, geometry inside the images, masks against
      areas, image files present (relative to ANN.json's folder); exit 1 on any error
  emseg dataset stats ANN.json [--json]
      images, instances per class, equivalent-diameter distributions (px, and nm when images carry
      pixel_size_nm)
  emseg dataset split ANN.json --out-dir DIR [--val 0.2] [--test 0] [--seed 0]
      seeded random split by image into DIR/train.json, DIR/val.json (and DIR/test.json)
  emseg dataset split ANN.json --out-dir DIR --folds K --fold I [--val 0.2] [--seed 0]
      fold I (0..K-1) of a seeded K-fold cross-validation: the fold's images are DIR/test.json,
      of the others a --val fraction of all images is DIR/val.json, the rest DIR/train.json
  emseg dataset split ANN.json --out-dir DIR --train-count N --val-count M [--seed 0]
      seeded few-shot draw: N images in DIR/train.json, M in DIR/val.json, the rest in DIR/rest.json`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        'out-dir': { type: 'string' },
        val: { type: 'string', default: '0.2' },
        test: { type: 'string', default: '0' },
        seed: { type: 'string', default: '0' },
        folds: { type: 'string' },
        fold: { type: 'string' },
        'train-count': { type: 'string' },
        'val-count': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function datasetCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parse(rest);
  if (!['check', 'stats', 'split'].includes(action ?? '')) throw new UsageError(`unknown action "${action ?? ''}": expected check, stats or split`);
  if (positionals.length !== 1) throw new UsageError(`dataset ${action} takes one ANN.json`);
  const file = positionals[0];
  const ds = loadCocoDataset(await readTextFile(file), file);
  if (action === 'check') {
    const issues = checkDataset(ds);
    const root = dirname(resolve(file));
    for (const im of ds.images) {
      if (im.file_name && !existsSync(join(root, im.file_name))) {
        issues.push({ level: 'warning', where: `image ${im.id}`, message: `file ${im.file_name} not found relative to ${root}` });
      }
    }
    const errors = issues.filter((i) => i.level === 'error').length;
    if (values.json) out(JSON.stringify({ file, ok: errors === 0, images: ds.images.length, annotations: ds.annotations.length, categories: ds.categories.length, issues }));
    else {
      for (const i of issues.slice(0, 50)) out(`${i.level}: ${file}: ${i.where}: ${i.message}`);
      if (issues.length > 50) out(`... and ${issues.length - 50} more`);
      out(`${errors === 0 ? 'OK' : 'INVALID'}: ${file}: ${ds.images.length} images, ${ds.annotations.length} annotations, ${ds.categories.length} categories; ${errors} errors, ${issues.length - errors} warnings`);
    }
    return errors === 0 ? 0 : 1;
  }
  if (action === 'stats') {
    const stats = datasetStats(ds);
    if (values.json) {
      out(JSON.stringify(stats));
      return 0;
    }
    out(`${file}: ${stats.images} images, ${stats.annotations} annotations (${stats.crowd} crowd)`);
    for (const c of stats.classes) {
      out(`\n${c.name} (id ${c.id}): ${c.instances} instances in ${c.imagesWith} images`);
      if (c.diameterPx) {
        const d = c.diameterPx;
        out(`  equivalent diameter: min ${d.min.toFixed(1)} px, median ${d.median.toFixed(1)} px, max ${d.max.toFixed(1)} px`);
        if (c.diameterNm) out(`                       min ${c.diameterNm.min.toFixed(1)} nm, median ${c.diameterNm.median.toFixed(1)} nm, max ${c.diameterNm.max.toFixed(1)} nm`);
        const peak = Math.max(...d.histogram.counts, 1);
        d.histogram.counts.forEach((n, i) => {
          out(`  ${d.histogram.edges[i].toFixed(1).padStart(8)} - ${d.histogram.edges[i + 1].toFixed(1).padEnd(8)} ${String(n).padStart(6)} ${'#'.repeat(Math.round((40 * n) / peak))}`);
        });
      }
    }
    return 0;
  }
  const outDir = values['out-dir'];
  if (!outDir) throw new UsageError('dataset split needs --out-dir DIR');
  const seed = Number(values.seed);
  if (values['train-count'] !== undefined || values['val-count'] !== undefined) {
    const nTrain = Number(values['train-count']), nVal = Number(values['val-count']);
    if (!(Number.isInteger(nTrain) && nTrain >= 1 && Number.isInteger(nVal) && nVal >= 1)) throw new UsageError('--train-count and --val-count must both be integers >= 1');
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, received "${values.seed}"`);
    return writeParts(file, outDir, fewShotSplit(ds, nTrain, nVal, seed), out);
  }
  const val = Number(values.val), test = Number(values.test);
  if (!(val > 0 && val < 1) || !(test >= 0 && test < 1) || !(val + test < 1)) throw new UsageError('--val and --test must be fractions with 0 < val, 0 <= test and val + test < 1');
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, received "${values.seed}"`);
  let parts: Record<string, CocoDataset>;
  if (values.folds !== undefined || values.fold !== undefined) {
    const folds = Number(values.folds), fold = Number(values.fold);
    if (!(Number.isInteger(folds) && folds >= 2)) throw new UsageError(`--folds must be an integer >= 2, received "${values.folds ?? ''}"`);
    if (!(Number.isInteger(fold) && fold >= 0 && fold < folds)) throw new UsageError(`--fold must be an integer from 0 to ${folds - 1}, received "${values.fold ?? ''}"`);
    if (test > 0) throw new UsageError('--test does not apply with --folds (the fold is the test part)');
    parts = crossValidationSplit(ds, folds, fold, val, seed);
  } else {
    const fractions: Record<string, number> = { train: 1 - val - test, val };
    if (test > 0) fractions.test = test;
    parts = splitDataset(ds, fractions, seed);
  }
  return writeParts(file, outDir, parts, out);
}

async function writeParts(file: string, outDir: string, parts: Record<string, CocoDataset>, out: (text: string) => void): Promise<number> {
  // Image paths stay valid: file_name is re-rooted from ANN.json's folder to the output folder.
  const from = dirname(resolve(file));
  const to = resolve(outDir);
  for (const [name, part] of Object.entries(parts)) {
    const moved = { ...part, images: part.images.map((im) => ({ ...im, file_name: im.file_name ? relative(to, join(from, im.file_name)) : im.file_name })) };
    await writeFileAtomic(join(outDir, `${name}.json`), `${stringifyCoco(moved)}\n`);
    out(`wrote ${join(outDir, `${name}.json`)}: ${part.images.length} images, ${part.annotations.length} annotations`);
  }
  return 0;
}
