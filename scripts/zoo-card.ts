// Measure a zoo model on the validation set its card.json names and write the metrics into the card
// (the numbers CI's mAP gate, test/model-zoo/zoo-map.test.ts, holds the model to).
//   node --import tsx scripts/zoo-card.ts vesicles          (the float model: card.metrics)
//   node --import tsx scripts/zoo-card.ts vesicles --int8   (its int8 file: card.int8.metrics)
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateModelFile } from '../sdk-node/evaluate-model.ts';
import { zooDir } from '../sdk-node/zoo.ts';
import { buildValidationSet } from './zoo-validation.ts';

const name = process.argv[2];
const int8 = process.argv.includes('--int8');
if (!name) throw new Error('usage: scripts/zoo-card.ts MODEL_FOLDER');
const cardPath = join(zooDir(), name, 'card.json');
const card = JSON.parse(readFileSync(cardPath, 'utf8'));
const v = card.validation;
const dir = mkdtempSync(join(tmpdir(), 'emseg-card-'));
try {
  const ann = await buildValidationSet(v, dir);
  if (int8) card.int8 = { file: `${name}-int8.onnx`, recipe: `bash recipes/zoo-int8.sh ${name}`, ...card.int8 };
  const { report } = await evaluateModelFile(join(zooDir(), name, int8 ? card.int8.file : card.file), ann, { maxDets: v.maxDets, detector: { log: () => {} } });
  const metrics = { iouType: report.iouType, AP: report.stats.AP, AP50: report.stats.AP50, AP75: report.stats.AP75, perClass: report.perClass };
  if (int8) card.int8.metrics = metrics;
  else card.metrics = metrics;
  writeFileSync(cardPath, `${JSON.stringify(card, null, 1)}\n`);
  console.log(JSON.stringify(metrics, null, 1));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
