import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { emsegBin } from '../helpers/cli.ts';

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
