import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { loadedModules } from '../helpers/loaded-modules.ts';
// @ts-expect-error: a plain .mjs script without types
import { findCycle, folderGraph } from '../../scripts/import-graph.mjs';

const root = new URL('../../', import.meta.url).pathname;

/** Rule ids ESLint reports for `code` placed at `file` (lintText with a path: no file is written). */
async function lintAt(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [r] = await eslint.lintText(code, { filePath: join(root, file) });
  return r.messages.map((m) => m.ruleId ?? m.message);
}

describe('imports run one way between folders', () => {
  // [file, import]: each a back-edge the architecture forbids (docs/ARCHITECTURE.md).
  const backEdges: [string, string][] = [
    ['core/inference/zz.ts', '../../sdk-node/detector.ts'],
    ['core/zz.ts', '../model/net/spec.ts'],
    ['model/zz.ts', '../training/train.ts'],
    ['model/detection/zz.ts', '../../export/detector.ts'],
    ['onnx/zz.ts', '../model/net/spec.ts'],
    ['export/zz.ts', '../training/predict.ts'],
    ['export/detection/zz.ts', '../../sdk-node/detector.ts'],
    ['training/zz.ts', '../export/detector.ts'],
    ['training/detection/zz.ts', '../../cli/emseg.ts'],
    ['sdk-node/zz.ts', '../onnx/model.ts'],
    ['sdk-node/analyze/zz.ts', '../../training/predict.ts'],
    ['sdk-node/zz.ts', '@tensorflow/tfjs'],
    ['sdk-web/zz.ts', '../sdk-node/detector.ts'],
    ['sdk-web/zz.ts', 'node:fs'],
  ];
  for (const [file, spec] of backEdges) {
    it(`lint fails on ${file} importing ${spec}`, async () => {
      assert.ok((await lintAt(file, `import { x } from '${spec}';\nexport const y = x;\n`)).includes('no-restricted-imports'));
    });
  }

  it('the allowed directions lint clean', async () => {
    const allowed: [string, string][] = [
      ['training/zz.ts', '../model/net/spec.ts'],
      ['training/zz.ts', '../onnx/model.ts'],
      ['training/zz.ts', '../sdk-node/read-image.ts'],
      ['export/zz.ts', '../model/net/spec.ts'],
      ['sdk-node/zz.ts', '../core/errors.ts'],
      ['cli/zz.ts', '../training/train.ts'],
    ];
    for (const [file, spec] of allowed) assert.deepEqual((await lintAt(file, `import { x } from '${spec}';\nexport const y = x;\n`)).filter((r) => r === 'no-restricted-imports'), [], `${file} -> ${spec}`);
  });

  it('the folder graph of the sources has no cycle; a back-edge makes one', () => {
    const keys = [...(folderGraph(root) as Map<string, string[]>).keys()];
    assert.ok(keys.includes('training -> model') && keys.includes('export -> onnx'), keys.join(', '));
    assert.equal(findCycle(keys), null);
    // The cycle is reported from wherever the search entered it (the folder order files are listed in).
    const cycle = findCycle([...keys, 'model -> training']) as string[] | null;
    assert.ok(cycle, 'a back-edge makes a cycle');
    assert.equal(cycle.length, 3);
    assert.equal(cycle[0], cycle[2]);
    assert.deepEqual(new Set(cycle), new Set(['model', 'training']));
    const r = spawnSync(process.execPath, [join(root, 'scripts/import-graph.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  it("importing the Node SDK (the package's entry) loads no tfjs, onnxruntime-web or training code", () => {
    const entry = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports['.'];
    const r = loadedModules(['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(root, entry))}); if (typeof m.Detector !== 'function' || typeof m.DetectorPool !== 'function') process.exit(3);`]);
    assert.equal(r.status, 0, r.stderr);
    const urls = r.urls;
    assert.ok(urls.some((u) => u.includes('onnxruntime-node')), 'the SDK loads onnxruntime-node');
    assert.deepEqual(urls.filter((u) => /@tensorflow|onnxruntime-web|onnx-proto|protobufjs|\/dist\/(training|export|onnx|model)\//.test(u)), []);
  });
});
