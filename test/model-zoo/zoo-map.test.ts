import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluateModelFile } from '../../sdk-node/evaluate-model.ts';
import { readZoo, zooDir } from '../../sdk-node/zoo.ts';
import { type CardValidation, buildValidationSet } from '../../scripts/zoo-validation.ts';

/**
 * The CI regression gate on zoo models: every model-zoo/<model>/card.json names the validation set
 * the model was measured on (a synthetic set, regenerated here byte for byte from its seed, or a real
 * benchmark's held-out test images, rebuilt from ../shared by the benchmark's split script) and the
 * APs measured on it; the model file is evaluated again through the Node SDK and the test fails when
 * any AP (overall or per class) falls more than 0.01 below its card. A model's int8 file is held to the
 * float model's card the same way: every class within 0.01 of the float file.
 */
interface Card {
  name: string;
  file: string;
  validation: CardValidation;
  metrics: Metrics;
  /** The int8 file (recipes/zoo-int8.sh) and its own measurement. */
  int8?: { file: string; recipe: string; metrics: Metrics };
}
interface Metrics {
  iouType: string;
  AP: number;
  AP50: number;
  perClass: Record<string, { AP: number; AP50: number; AP75: number }>;
}

const TOLERANCE = 0.01;
const work = mkdtempSync(join(tmpdir(), 'emseg-zoo-'));
after(() => rmSync(work, { recursive: true, force: true }));

const cards = readdirSync(zooDir(), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(zooDir(), d.name, 'card.json')))
  .map((d) => JSON.parse(readFileSync(join(zooDir(), d.name, 'card.json'), 'utf8')) as Card);

describe('model zoo: mAP regression gate', () => {
  it('every zoo entry points at a model that has a card', () => {
    assert.ok(cards.length >= 2, 'vesicle and nanorod cards');
    for (const [name, entry] of Object.entries(readZoo())) {
      assert.ok(existsSync(join(zooDir(), entry.file)), `${name}: ${entry.file} exists`);
      assert.ok(cards.some((c) => entry.file === `${c.name}/${c.file}` || (c.int8 && entry.file === `${c.name}/${c.int8.file}`)), `${name}: ${entry.file} has a card.json`);
    }
  });

  for (const card of cards) {
    const files: [string, string][] = [[card.file, 'card'], ...(card.int8 ? [[card.int8.file, 'float card'] as [string, string]] : [])];
    for (const [file, against] of files) {
      it(`${card.name}: ${file} AP on its validation set is not below its ${against} (- ${TOLERANCE})`, async () => {
        const v = card.validation;
        const dir = join(work, card.name);
        const ann = existsSync(join(dir, 'ann-path')) ? readFileSync(join(dir, 'ann-path'), 'utf8') : await buildValidationSet(v, dir);
        writeFileSync(join(dir, 'ann-path'), ann);
        const { report } = await evaluateModelFile(join(zooDir(), card.name, file), ann, { maxDets: v.maxDets, detector: { log: () => {} } });
        assert.equal(report.iouType, card.metrics.iouType);
        const lines = [`${card.name}/${file}: ${report.iouType} AP ${report.stats.AP.toFixed(4)} (${against} ${card.metrics.AP.toFixed(4)})`];
        assert.ok(report.stats.AP >= card.metrics.AP - TOLERANCE, `AP ${report.stats.AP} < ${against} ${card.metrics.AP} - ${TOLERANCE}`);
        for (const [cls, want] of Object.entries(card.metrics.perClass)) {
          const got = report.perClass[cls];
          assert.ok(got, `class ${cls} evaluated`);
          lines.push(`  ${cls}: AP ${got.AP.toFixed(4)} (${against} ${want.AP.toFixed(4)})`);
          assert.ok(got.AP >= want.AP - TOLERANCE, `${cls}: AP ${got.AP} < ${against} ${want.AP} - ${TOLERANCE}`);
        }
        console.log(lines.join('\n'));
      });
    }
  }
});
