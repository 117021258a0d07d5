import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { looksLikeZooName, parseZooTable, zooEntry } from '../../core/inference/zoo.ts';
import { repoRoot } from '../helpers/fixtures.ts';

const bad = (text: string, pattern: RegExp) =>
  assert.throws(() => parseZooTable(text, 'zoo.json'), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FORMAT_BAD_HEADER' && e.file === 'zoo.json' && pattern.test(e.message));

describe('zoo table (core/inference/zoo.ts, both SDKs)', () => {
  it('reads the shipped model-zoo/zoo.json: every entry a file inside the zoo, aliases with their classes', () => {
    const table = parseZooTable(readFileSync(join(repoRoot, 'model-zoo', 'zoo.json'), 'utf8'), 'model-zoo/zoo.json');
    assert.deepEqual(zooEntry(table, 'vesicle-large').classes, ['large_vesicle']);
    for (const name of Object.keys(table)) assert.ok(looksLikeZooName(name), name);
  });

  it('refuses what is not a zoo table, naming the file and the entry', () => {
    bad('{', /zoo\.json: not valid JSON/);
    bad('[]', /expected an object of zoo entries/);
    bad('null', /expected an object of zoo entries/);
    bad('{"a": 3}', /entry "a" needs "file"/);
    bad('{"a": {"file": 7}}', /entry "a" needs "file"/);
    bad('{"a": {"file": "a.onnx", "classes": "x"}}', /entry "a" needs .*"classes"/);
    bad('{"a": {"file": "a.onnx", "classes": [1]}}', /entry "a" needs .*"classes"/);
  });

  it('keeps model files inside the zoo folder (no "..", absolute path or URL)', () => {
    for (const file of ['../secret.onnx', 'a/../../b.onnx', '/etc/model.onnx', '\\\\server\\m.onnx', 'https://example.org/m.onnx', 'file:///m.onnx', 'data:,x', '']) {
      bad(JSON.stringify({ m: { file } }), /entry "m": "file" must be a path inside the zoo folder/);
    }
    assert.equal(zooEntry(parseZooTable('{"m": {"file": "sub/m..v2.onnx"}}', 'zoo.json'), 'm').file, 'sub/m..v2.onnx');
  });

  it('an unknown name lists the zoo; names are told from paths and URLs', () => {
    const table = parseZooTable('{"a": {"file": "a.onnx"}, "b": {"file": "b.onnx"}}', 'zoo.json');
    assert.throws(() => zooEntry(table, 'c'), /c: neither a model file nor a zoo model \(zoo: a, b\)/);
    assert.throws(() => zooEntry(table, 'toString'), /neither a model file nor a zoo model/);
    assert.deepEqual(['vesicle-large', 'a.onnx', './m', 'https://x/m.onnx', '-x'].map(looksLikeZooName), [true, false, false, false, false]);
  });
});
