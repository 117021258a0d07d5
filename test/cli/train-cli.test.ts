import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { emsegBin } from '../helpers/cli.ts';
import { sharedDir } from '../helpers/fixtures.ts';

describe('emseg train: kernel selection', () => {
  it('EMSEG_CONV_KERNELS other than wasm/onnxruntime: a typed error naming the variable, exit 1, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-train-cli-'));
    try {
      const r = spawnSync(process.execPath, [emsegBin, 'train', '--task', 'rotated-detection', '--train', join(dir, 'none.json'), '--out', join(dir, 'run')], {
        encoding: 'utf8',
        env: { ...process.env, EMSEG_CONV_KERNELS: 'mkl' },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /EMSEG_INVALID_ARGUMENT: EMSEG_CONV_KERNELS must be "wasm" or "onnxruntime", not "mkl"/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('emseg train on a new one-class real dataset with no other flags', () => {
  it('starts from the zoo\'s EM-pretrained backbone, prints progress with an ETA, and "--init-backbone none" trains from scratch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-train-default-'));
    try {
      const emps = join(sharedDir, 'data', 'emps-train');
      const names = readFileSync(join(emps, 'train.csv'), 'utf8').trim().split('\n').slice(40, 42).map((n) => `${n.trim()}.png`);
      writeFileSync(join(dir, 'list.txt'), names.join('\n'));
      const ann = join(dir, 'ann.json');
      const c = spawnSync(process.execPath, [emsegBin, 'convert', 'labelmap', '--images', join(emps, 'images'), '--masks', join(emps, 'segmaps'), '--only', join(dir, 'list.txt'), '--category', 'particle', '--out', ann], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      // --max-steps and --workers only to keep CI short: the rest are the defaults a new user gets.
      const train = (extra: string[]) => spawnSync(process.execPath, [emsegBin, 'train', '--task', 'instance-segmentation', '--train', ann, '--val', ann, '--out', join(dir, `run${extra.length}`), '--max-steps', '2', '--workers', '1', ...extra], { encoding: 'utf8' });
      const r = train([]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /initialised 8\d of 8\d backbone \+ fpn \+ rpn tensors from .*particle\.onnx \(the default EM-pretrained backbone; --init-backbone none trains from scratch\)/);
      assert.match(r.stderr, /step 1\/2 \| loss [\d.]+ .*\| [\d.]+ steps\/s \| ETA \d+m\d\ds/);
      assert.match(r.stderr, /checkpoint selection: the last step \(validation has 2 images, fewer than 10\)/);
      const scratch = train(['--init-backbone', 'none']);
      assert.equal(scratch.status, 0, scratch.stderr);
      assert.doesNotMatch(scratch.stderr, /initialised/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
