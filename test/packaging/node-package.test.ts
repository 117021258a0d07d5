import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Detector } from '../../sdk-node/detector.ts';

const root = new URL('../../', import.meta.url).pathname;
const sample = join(root, 'model-zoo/samples/tem-vesicles-0001.tif');

function duBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/**
 * The Node SDK as its own npm package (scripts/pack.mjs node), installed into an empty folder the way
 * a user installs it: it runs a zoo model with the same result as the SDK in this repository, and
 * brings neither tfjs, onnxruntime-web, the protobuf layer, nor the training or export code.
 */
describe('@emseg/node package (npm pack, installed into an empty folder)', () => {
  const work = mkdtempSync(join(tmpdir(), 'emseg-pack-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('installs without tfjs and runs a zoo model with the repository SDK\'s result', async (t) => {
    const out = JSON.parse(execFileSync(process.execPath, [join(root, 'scripts/pack.mjs'), '--out', join(work, 'packages'), 'node'], { encoding: 'utf8' }).trim().split('\n').pop() as string) as { node: string };
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    copyFileSync(join(root, '.npmrc'), join(app, '.npmrc')); // onnxruntime-node: no CUDA download
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', out.node], { cwd: app, stdio: 'pipe' });
    const modules = join(app, 'node_modules');
    for (const absent of ['@tensorflow', 'onnxruntime-web', 'onnx-proto', 'protobufjs', 'tsx', 'typescript']) assert.ok(!existsSync(join(modules, absent)), `${absent} was installed`);
    const pkg = join(modules, '@emseg/node');
    for (const absent of ['training', 'export', 'onnx', 'model', 'cli']) assert.ok(!existsSync(join(pkg, absent)), `the package holds ${absent}/`);
    t.diagnostic(`install size: node_modules ${(duBytes(modules) / 1e6).toFixed(0)} MB, of which @emseg/node ${(duBytes(pkg) / 1e6).toFixed(1)} MB and onnxruntime-node ${(duBytes(join(modules, 'onnxruntime-node')) / 1e6).toFixed(0)} MB`);
    writeFileSync(join(app, 'run.mjs'), "import { Detector } from '@emseg/node';\nconst d = new Detector('vesicle-large', { log: () => {} });\nconst r = await d.run(process.argv[2]);\nawait d.dispose();\nprocess.stdout.write(JSON.stringify(r));\n");
    const installed = JSON.parse(execFileSync(process.execPath, ['run.mjs', sample], { cwd: app, encoding: 'utf8', maxBuffer: 1 << 28 }));
    const det = new Detector('vesicle-large', { log: () => {} });
    const here = JSON.parse(JSON.stringify(await det.run(sample)));
    await det.dispose();
    assert.ok(here.instances.length > 10);
    assert.deepEqual(installed, here);
  });

  it('@emseg/web: the browser bundle alone, with no dependencies', () => {
    const out = JSON.parse(execFileSync(process.execPath, [join(root, 'scripts/pack.mjs'), '--out', join(work, 'packages'), 'web'], { encoding: 'utf8' }).trim().split('\n').pop() as string) as { web: string };
    const files = execFileSync('tar', ['-tzf', out.web], { encoding: 'utf8' }).split('\n');
    for (const f of ['package/emseg.js', 'package/emseg-worker.js', 'package/ort-wasm-simd-threaded.jsep.wasm']) assert.ok(files.includes(f), `${f} in ${out.web}`);
    const pkg = JSON.parse(execFileSync('tar', ['-xzOf', out.web, 'package/package.json'], { encoding: 'utf8' }));
    assert.equal(pkg.name, '@emseg/web');
    assert.equal(pkg.dependencies, undefined);
  });
});
