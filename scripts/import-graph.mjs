// The folder import graph of emseg's sources (docs/ARCHITECTURE.md): every relative import between
// top-level folders, counted. `--check` exits 1 when the folders import each other in a cycle (CI
// runs it with `npm run lint`; ESLint's per-folder rules forbid each back-edge by name).
//   node scripts/import-graph.mjs [--check] [--files]
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { globSync } from 'tinyglobby';

export const SOURCE_FOLDERS = ['core', 'model', 'onnx', 'training', 'export', 'sdk-node', 'sdk-web', 'app', 'cli'];

/** Map "from -> to" (folders) to the file-level edges behind it. */
export function folderGraph(root) {
  const edges = new Map();
  for (const f of globSync(SOURCE_FOLDERS.map((d) => `${d}/**/*.{ts,mjs}`), { cwd: root })) {
    const src = readFileSync(resolve(root, f), 'utf8');
    const from = f.split('/')[0];
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const target = relative(root, resolve(root, dirname(f), m[1] ?? m[2]));
      const to = target.split('/')[0];
      if (to === from || !SOURCE_FOLDERS.includes(to)) continue;
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) edges.set(key, []);
      edges.get(key).push(`${f} -> ${target}`);
    }
  }
  return edges;
}

/** A cycle among folders as a list [a, b, ..., a], or null. */
export function findCycle(edgeKeys) {
  const next = new Map();
  for (const k of edgeKeys) {
    const [a, b] = k.split(' -> ');
    if (!next.has(a)) next.set(a, []);
    next.get(a).push(b);
  }
  const state = new Map(); // 1 = on the stack, 2 = done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of next.keys()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const graph = folderGraph(root);
  const check = process.argv.includes('--check');
  for (const [k, v] of check ? [] : [...graph].sort()) {
    console.log(`${k} (${v.length})`);
    if (process.argv.includes('--files')) for (const e of v) console.log(`    ${e}`);
  }
  const cycle = findCycle([...graph.keys()]);
  if (cycle) console.log(`cycle: ${cycle.join(' -> ')}`);
  else if (check) console.log(`folder imports: ${graph.size} edges between folders, no cycle`);
  if (check && cycle) process.exit(1);
}
