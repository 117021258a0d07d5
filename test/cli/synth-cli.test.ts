import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runEmsegAsync } from '../helpers/cli.ts';

describe('emseg synth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emseg-synth-'));

  for (const kind of ['tem-vesicles', 'haadf-nanorods'] as const) {
    it(`${kind}: same seed, same bytes; a valid dataset; calibrated 16-bit TIFFs`, async () => {
      const a = join(dir, `${kind}-a`), b = join(dir, `${kind}-b`), c = join(dir, `${kind}-c`);
      const runs = await Promise.all([
        runEmsegAsync('synth', kind, '--count', '2', '--seed', '11', '--size', '256', '--out', a),
        runEmsegAsync('synth', kind, '--count', '2', '--seed', '11', '--size', '256', '--out', b),
        runEmsegAsync('synth', kind, '--count', '2', '--seed', '12', '--size', '256', '--out', c),
      ]);
      for (const r of runs) assert.equal(r.status, 0, r.stderr);
      const files = ['annotations.json', ...readdirSync(join(a, 'images')).map((f) => join('images', f))];
      assert.equal(files.length, 3);
      for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between runs with one seed`);
      assert.ok(!readFileSync(join(a, files[1])).equals(readFileSync(join(c, files[1]))), 'another seed gives another image');
      const check = await runEmsegAsync('dataset', 'check', join(a, 'annotations.json'));
      assert.equal(check.status, 0, check.stdout);
      const info = await runEmsegAsync('info', '--json', join(a, files[1]));
      assert.equal(info.status, 0, info.stderr);
      const rec = JSON.parse(info.stdout);
      assert.deepEqual([rec.format, rec.width, rec.height, rec.dtype], ['TIFF', 256, 256, 'uint16']);
      assert.ok(Math.abs(rec.pixelSize.x - 2) < 1e-9, `pixel size ${JSON.stringify(rec.pixelSize)}`);
      const ds = JSON.parse(readFileSync(join(a, 'annotations.json'), 'utf8'));
      if (kind === 'haadf-nanorods') assert.ok(ds.annotations.every((x: { rbox?: number[] }) => x.rbox?.length === 5));
      else assert.deepEqual(ds.categories.map((x: { name: string }) => x.name), ['large_vesicle', 'small_vesicle', 'hole']);
    });
  }

  it('rejects bad options with usage errors', async () => {
    assert.equal((await runEmsegAsync('synth', 'tem-vesicles', '--count', '0', '--out', dir)).status, 2);
    assert.equal((await runEmsegAsync('synth', 'sem-particles', '--count', '1', '--out', dir)).status, 2);
    assert.equal((await runEmsegAsync('synth', 'tem-vesicles', '--count', '1', '--size', '99999', '--out', dir)).status, 2);
  });
});
