import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadedModules } from '../helpers/loaded-modules.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The module URLs `node dist/cli/emseg.js ARGS` resolves. */
const cli = (...args: string[]) => loadedModules([join(root, 'dist/cli/emseg.js'), ...args]);

const heavy = (urls: string[], pattern: RegExp): string[] => urls.filter((u) => pattern.test(u));

describe('the CLI loads a command only when it runs', () => {
  it('emseg --help: no command module, no tfjs, no ONNX Runtime, no sharp', () => {
    const r = cli('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /export +write a trained checkpoint/);
    assert.deepEqual(heavy(r.urls, /@tensorflow|onnxruntime|sharp|h5wasm|\/commands\//), []);
  });

  it('emseg info --help loads info only; emseg export --help loads the exporter without tfjs', () => {
    const info = cli('info', '--help');
    assert.equal(info.status, 0);
    assert.deepEqual(heavy(info.urls, /\/commands\/(?!info)/), []);
    assert.deepEqual(heavy(info.urls, /@tensorflow|onnxruntime/), []);
    const exp = cli('export', '--help');
    assert.equal(exp.status, 0);
    assert.match(exp.stdout, /emseg export CHECKPOINT/);
    assert.deepEqual(heavy(exp.urls, /@tensorflow|onnxruntime|\/training\//), []);
  });
});
