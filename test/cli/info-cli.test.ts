import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toNanometres } from '../../core/formats/limits.ts';
import { runEmsegAsync } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { emFormatsDir, loadFormatFile, manifestEntries } from '../helpers/em-formats.ts';

// .emi files are SER companions and the .npy a reference array: not images to read on their own.
const images = manifestEntries((f) => !/\.(emi|npy)$/i.test(f.file));

const relClose = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.abs(b);

describe('emseg info on every real file of em-formats/MANIFEST.json', () => {
  it('reports size, dtype and calibration in nm (to 1e-6 relative) for all files at once', async () => {
    assert.ok(images.length >= 25, `${images.length} files`);
    const r = await runEmsegAsync('info', '--json', ...images.map((f) => join(emFormatsDir, f.file)));
    assert.equal(r.status, 0, r.stderr);
    const records = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(records.length, images.length);
    images.forEach((f, i) => {
      const got = records[i] as { file: string; format: string; width: number; height: number; dtype: string; pixelSize: { x: number; y: number; unit: string } | null; calibration?: { x: number; y: number; unit: string } };
      const what = f.file;
      assert.equal(got.width, f.width, `${what} width`);
      assert.equal(got.height, f.height, `${what} height`);
      assert.equal(got.dtype, f.dtype, `${what} dtype`);
      assert.ok(f.format.toUpperCase().startsWith(got.format.split('-')[0].toUpperCase()), `${what}: format ${got.format} vs ${f.format}`);
      const { x_scale: xs, y_scale: ys, unit } = f.calibration;
      // Some files calibrate each axis in its own unit (x in nm, y in Angstrom).
      const xNm = xs === null ? null : toNanometres(xs, f.calibration.x_unit ?? unit);
      const yNm = ys === null ? null : toNanometres(ys, f.calibration.y_unit ?? unit);
      if (xNm !== null && yNm !== null) {
        assert.ok(got.pixelSize, `${what}: expected a pixel size of ${xs} ${unit}`);
        assert.equal(got.pixelSize.unit, 'nm');
        assert.ok(relClose(got.pixelSize.x, xNm) && relClose(got.pixelSize.y, yNm), `${what}: ${JSON.stringify(got.pixelSize)} vs ${xNm}, ${yNm} nm`);
      } else {
        assert.equal(got.pixelSize, null, `${what}: uncalibrated or reciprocal (${unit}) has no pixel size`);
        if (unit && xs !== null) {
          assert.ok(got.calibration, `${what}: keeps the ${unit} calibration`);
          assert.ok(relClose(got.calibration.x, xs) && got.calibration.unit === unit, `${what}: ${JSON.stringify(got.calibration)}`);
        }
      }
    });
  });

  it('prints a readable line per file', async () => {
    const r = await runEmsegAsync('info', join(emFormatsDir, 'dm3/multi_signal.dm3'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /multi_signal\.dm3: DM3 512 x 512 uint16, 0\.0177516 nm\/px/);
  });

  it('reports unreadable files with their name, keeps going, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-info-'));
    const notImage = join(dir, 'notes.txt');
    writeFileSync(notImage, 'hello, not an image');
    const cut = join(dir, 'cut.dm4');
    writeFileSync(cut, loadFormatFile('dm4/dmTest_float32_nonSquare_diffPixelSize.dm4').subarray(0, 3000));
    const r = await runEmsegAsync('info', '--json', notImage, cut, join(emFormatsDir, 'dm3/test-1.dm3'), join(dir, 'missing.tif'));
    assert.equal(r.status, 1);
    const recs = JSON.parse(r.stdout);
    assert.equal(recs[0].code, 'EMSEG_FORMAT_UNKNOWN');
    assert.match(recs[0].error, /notes\.txt: not an image format/);
    assert.equal(recs[1].code, 'EMSEG_FORMAT_TRUNCATED');
    assert.match(recs[1].error, /cut\.dm4/);
    assert.equal(recs[2].width, 2);
    assert.equal(recs[3].code, 'EMSEG_FILE_READ');
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('describes an emseg model from its metadata, and a damaged one with a typed error', async () => {
    const zoo = join(repoRoot, 'model-zoo', 'nanorod-tem', 'nanorod-tem.onnx');
    const r = await runEmsegAsync('info', zoo);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /nanorod-tem\.onnx: emseg model, rotated-detection, classes nanorod, trained at an uncalibrated pixel size, version \S+/);
    const j = await runEmsegAsync('info', '--json', zoo);
    const rec = JSON.parse(j.stdout) as { model: { task: string; classes: string[]; inputDivisor: number } };
    assert.deepEqual([rec.model.task, rec.model.classes, rec.model.inputDivisor], ['rotated-detection', ['nanorod'], 32]);
    const bad = join(mkdtempSync(join(tmpdir(), 'emseg-info-')), 'cut.onnx');
    writeFileSync(bad, readFileSync(zoo).subarray(0, 4000));
    const b = await runEmsegAsync('info', bad);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /emseg info: error EMSEG_FORMAT_TRUNCATED: .*cut\.onnx/);
  });
});
