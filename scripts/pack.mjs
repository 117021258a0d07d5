// npm packages from one build (docs/ARCHITECTURE.md, "Packages"), so a user installs only what they use:
//   emseg        the CLI with everything (training on tfjs, export, SDK): this repository's package.json
//   @emseg/node  the Node SDK only: core/ + sdk-node/ + the model zoo; onnxruntime-node, sharp, h5wasm;
//                no tfjs, no onnxruntime-web, no protobuf library, no training or export code
//   @emseg/web   the browser bundle (dist/web/: emseg.js, the worker with onnxruntime-web inside, its
//                WebAssembly): no dependencies, nothing for Node
// One package.json per folder (npm workspaces) would need the sources split by package; the folders'
// one-way imports (lint) already make core/ + sdk-node/ a closed set, so the Node SDK is cut from
// dist/ here and its closure is checked: a file importing outside the package fails the script.
//   node scripts/pack.mjs [--out DIR] [node] [web] [cli]     (default: all; run `npm run build` first)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = resolve(outAt >= 0 ? args[outAt + 1] : join(root, 'dist-packages'));
const which = args.filter((a, i) => a !== '--out' && i !== outAt + 1);
const wanted = which.length > 0 ? which : ['node', 'web', 'cli'];
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
mkdirSync(out, { recursive: true });

/** `npm pack` of a folder into `out`; returns the tarball's path. */
function pack(dir) {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_ignore_scripts: 'true' } }).trim().split('\n').pop();
  return join(out, name);
}

function* jsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* jsFiles(join(dir, e.name));
    else if (/\.(js|mjs)$/.test(e.name)) yield join(dir, e.name);
  }
}

/** Every relative import of the staged files stays inside it; bare imports are returned. */
function checkClosure(stage) {
  const bare = new Set();
  for (const f of jsFiles(stage)) {
    const src = readFileSync(f, 'utf8');
    const specs = [
      ...src.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"\n]+)['"]/gm),
      ...src.matchAll(/^\s*import\s*['"]([^'"\n]+)['"]/gm),
      ...src.matchAll(/\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g),
      // new URL('./x.mjs', import.meta.url), and `./detector-worker${ext}` as its .js
      ...src.matchAll(/new URL\(\s*[`'"](\.[^`'"$\n]+)(?:['"]|`|\$\{[^}]*\}`)/g),
    ].map((m) => m[1]);
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(f), spec);
        if (relative(stage, target).startsWith('..') || !(existsSync(target) || existsSync(`${target}.js`))) throw new Error(`${relative(stage, f)} imports ${spec}, which is not in the package`);
      } else if (!spec.startsWith('node:')) bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  }
  return bare;
}

const tarballs = {};
if (wanted.includes('node')) {
  const stage = join(out, 'stage-node');
  rmSync(stage, { recursive: true, force: true });
  for (const d of ['core', 'sdk-node']) cpSync(join(root, 'dist', d), join(stage, d), { recursive: true });
  cpSync(join(root, 'model-zoo'), join(stage, 'model-zoo'), { recursive: true, filter: (src) => !src.includes(`${join('model-zoo', 'samples')}`) });
  const bare = checkClosure(stage);
  bare.delete('tsx'); // worker-bootstrap.mjs loads it only when running from TypeScript sources
  const deps = Object.fromEntries([...bare].sort().map((name) => {
    const version = rootPkg.dependencies[name];
    if (!version) throw new Error(`the Node SDK imports ${name}, which the root package.json does not list`);
    return [name, version];
  }));
  const pkg = {
    name: '@emseg/node',
    version: rootPkg.version,
    description: 'emseg Node SDK: run exported emseg models (zoo names or .onnx) on EM images with onnxruntime-node; measurements in nm.',
    type: 'module',
    license: rootPkg.license,
    engines: rootPkg.engines,
    exports: { '.': { types: './sdk-node/index.d.ts', default: './sdk-node/index.js' }, './core': { types: './core/index.d.ts', default: './core/index.js' } },
    dependencies: deps,
  };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(stage, 'README.md'), `# @emseg/node\n\nThe Node SDK of emseg (see the emseg README and docs/sdk.md):\n\n\`\`\`js\nimport { Detector } from '@emseg/node';\nconst result = await new Detector('vesicle-large').run('image.tif');\n\`\`\`\n\nThe CLI, training and export are in the \`emseg\` package.\n`);
  tarballs.node = pack(stage);
}
if (wanted.includes('web')) {
  const stage = join(out, 'stage-web');
  rmSync(stage, { recursive: true, force: true });
  cpSync(join(root, 'dist', 'web'), stage, { recursive: true, filter: (src) => !src.endsWith('.map') });
  // onnxruntime-web's bundle names Node built-ins in code paths it takes only under Node.
  const bare = new Set([...checkClosure(stage)].filter((m) => !builtinModules.includes(m)));
  if (bare.size > 0) throw new Error(`the web bundle imports packages: ${[...bare].join(', ')}`);
  const pkg = { name: '@emseg/web', version: rootPkg.version, description: 'emseg web SDK: exported emseg models in the browser (onnxruntime-web in a Web Worker, WASM; WebGPU opt-in).', type: 'module', license: rootPkg.license, exports: { '.': './emseg.js', './inline': './emseg-inline.js' } };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(stage, 'README.md'), `# @emseg/web\n\nThe browser SDK of emseg (see the emseg repository, sdk-web/README.md). Serve this folder's files together (the worker and the WebAssembly are loaded next to emseg.js).\n`);
  tarballs.web = pack(stage);
}
if (wanted.includes('cli')) tarballs.cli = pack(root);
console.log(JSON.stringify(tarballs));
