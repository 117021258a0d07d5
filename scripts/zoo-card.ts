// Measure a zoo model on the validation set its card.json names and write the metrics into the card
// (the numbers CI's mAP gate, test/model-zoo/zoo-map.test.ts, holds the model to).
//   node --import tsx scripts/zoo-card.ts vesicles
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateModelFile } from '../sdk-node/evaluate-model.ts';
import { zooDir } from '../sdk-node/zoo.ts';
import { buildValidationSet } from './zoo-validation.ts';

const name = process.argv[2];
if (!name) throw new Error('usage: scripts/zoo-card.ts MODEL_FOLDER');
const cardPath = join(zooDir(), name, 'card.json');
const card = JSON.parse(readFileSync(cardPath, 'utf8'));
const v = card.validation;
const dir = mkdtempSync(join(tmpdir(), 'emseg-card-'));
try {
  const ann = await buildValidationSet(v, dir);
  const { report } = await evaluateModelFile(join(zooDir(), name, card.file), ann, { maxDets: v.maxDets, detector: { log: () => {} } });
  card.metrics = { iouType: report.iouType, AP: report.stats.AP, AP50: report.stats.AP50, AP75: report.stats.AP75, perClass: report.perClass };
  writeFileSync(cardPath, `${JSON.stringify(card, null, 1)}\n`);
  console.log(JSON.stringify(card.metrics, null, 1));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
