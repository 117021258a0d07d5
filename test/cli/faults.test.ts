import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSynthDataset } from '../../sdk-node/synth.ts';
import { emsegBin, runEmsegAsync } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/fixtures.ts';

/**
 * Faults from the machine rather than from the input: a disk that fills up (a small tmpfs mounted in
 * a private mount namespace, `unshare -rm`, so no root and no trace outside the test) and a machine
 * without network (`unshare -rn`: only a down loopback; plus a preloaded recorder that logs every
 * attempt, so "works offline" also means "never tried"). util-linux's unshare is on every Debian; the
 * test fails rather than skips when the kernel refuses the namespaces.
 */
let work = '';
let inputs = '';
let ann = '';
let checkpoint = '';

/** Run a shell script in a new user + mount (+ network) namespace; returns its output. */
function inNamespace(flags: string, script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('unshare', [flags, 'sh', '-c', script], { encoding: 'utf8', env: { ...process.env, EMSEG: `${process.execPath} ${emsegBin}` } });
  if (r.error) throw r.error;
  return r;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'emseg-faults-'));
  inputs = join(work, 'inputs');
  mkdirSync(inputs);
  const samples = join(repoRoot, 'model-zoo', 'samples');
  for (const f of readdirSync(samples).filter((n) => n.endsWith('.tif'))) for (const k of [0, 1]) copyFileSync(join(samples, f), join(inputs, `${k}-${f}`));
  await writeSynthDataset({ kind: 'haadf-nanorods', count: 2, seed: 4, size: 128, out: join(work, 'data'), haadf: { count: [4, 6] } });
  ann = join(work, 'data', 'annotations.json');
  const run = join(work, 'run');
  const r = await runEmsegAsync('train', '--task', 'rotated-detection', '--train', ann, '--out', run, '--max-steps', '2', '--workers', '1', '--init-backbone', 'none');
  assert.equal(r.status, 0, r.stderr);
  checkpoint = join(run, 'checkpoints', 'best');
});
after(() => rmSync(work, { recursive: true, force: true }));

const TABLES = ['objects.csv', 'summary.csv', 'summary.json', 'predictions.coco.json'];

describe('disk full (a 600 kB tmpfs)', () => {
  it('analyze, train and export stop with EMSEG_FILE_WRITE naming the file; nothing partial is left to trust; analyze finishes once there is space', () => {
    const full = join(work, 'full');
    const kept = join(work, 'kept');
    mkdirSync(full);
    const ref = join(work, 'analyze-ref');
    assert.equal(spawnSync(process.execPath, [emsegBin, 'analyze', inputs, '--model', 'vesicles', '--out', ref, '--format', 'csv,json,coco', '--overlay']).status, 0);
    const r = inNamespace('-rm', `
      mount -t tmpfs -o size=600k none '${full}' || exit 90
      $EMSEG analyze '${inputs}' --model vesicles --out '${full}/out' --format csv,json,coco --overlay 2> '${kept}.analyze.err'; echo "analyze $?"
      $EMSEG train --task rotated-detection --train '${ann}' --out '${full}/run' --max-steps 2 --workers 1 --init-backbone none 2> '${kept}.train.err'; echo "train $?"
      $EMSEG export '${checkpoint}' -o '${full}/model.onnx' 2> '${kept}.export.err'; echo "export $?"
      mkdir -p '${kept}' && cp -r '${full}/.' '${kept}/before'
      mount -o remount,size=64m '${full}' && rm -rf '${full}/run' '${full}/model.onnx'
      $EMSEG analyze '${inputs}' --model vesicles --out '${full}/out' --format csv,json,coco --overlay > '${kept}.analyze2.out'; echo "analyze-again $?"
      cp -r '${full}/out' '${kept}/after'
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /^analyze 0$/m, 'analyze did not fit in 600 kB');
    assert.match(r.stdout, /^analyze 1$/m);
    assert.match(r.stdout, /^train 1$/m);
    assert.match(r.stdout, /^export 1$/m);
    assert.match(r.stdout, /^analyze-again 0$/m);
    for (const cmd of ['analyze', 'train', 'export']) {
      const err = readFileSync(`${kept}.${cmd}.err`, 'utf8');
      assert.match(err, new RegExp(`emseg ${cmd}: error EMSEG_FILE_WRITE: ${full}/\\S+: cannot write.*ENOSPC`), `${cmd}: ${err}`);
      assert.doesNotMatch(err, /\n\s+at /, `${cmd}: no stack trace`);
    }
    // Nothing partial under a final name: every JSON parses, no temporary file or folder remains, no model.
    const before = readdirSync(join(kept, 'before'), { recursive: true }) as string[];
    assert.deepEqual(before.filter((f) => /\.tmp/.test(f)), [], 'no temporary files left');
    assert.ok(!before.includes('model.onnx'), 'no partial model');
    for (const f of before.filter((n) => n.endsWith('.json'))) JSON.parse(readFileSync(join(kept, 'before', f), 'utf8'));
    assert.match(readFileSync(`${kept}.analyze2.out`, 'utf8'), /analysed 6 of 6 images/);
    for (const f of TABLES) assert.equal(readFileSync(join(kept, 'after', f), 'utf8'), readFileSync(join(ref, f), 'utf8'), f);
  });
});

describe('no network', () => {
  const recorder = join(repoRoot, 'test', 'helpers', 'record-network.mjs');

  it('the recorder sees an attempt when there is one (so its silence below means something)', () => {
    const log = join(work, 'control.log');
    const r = spawnSync(process.execPath, ['--import', recorder, '-e', "fetch('https://example.org').catch(() => {})"], { env: { ...process.env, EMSEG_NETWORK_LOG: log }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(log, 'utf8'), /fetch https:\/\/example\.org/);
  });

  it('analyze, train (the default pre-trained backbone from the zoo) and export run without a network and try none', () => {
    const log = join(work, 'network.log');
    const out = join(work, 'offline');
    const r = inNamespace('-rn', `
      export NODE_OPTIONS='--import ${recorder}' EMSEG_NETWORK_LOG='${log}'
      $EMSEG analyze '${inputs}' --model vesicles --out '${out}/analyze' --format csv,json,coco,geojson --overlay --report || exit 11
      $EMSEG train --task rotated-detection --train '${ann}' --val '${ann}' --out '${out}/run' --max-steps 2 --workers 2 || exit 12
      $EMSEG export '${out}/run/checkpoints/best' -o '${out}/model.onnx' || exit 13
      $EMSEG info '${out}/model.onnx' || exit 14
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /initialised \d+ of \d+ backbone \+ fpn \+ rpn tensors from .*particle\.onnx/, 'the default backbone came from the zoo on disk');
    assert.ok(existsSync(join(out, 'model.onnx')));
    assert.equal(existsSync(log) ? readFileSync(log, 'utf8') : '', '', 'no network attempt');
  });
});
