// Post-build steps tsc does not do: copy non-TypeScript runtime files into dist/ (worker bootstrap)
// and mark the CLI entry points executable.
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
for (const file of ['sdk-node/worker-bootstrap.mjs']) {
  mkdirSync(dirname(join(root, 'dist', file)), { recursive: true });
  copyFileSync(join(root, file), join(root, 'dist', file));
}

// tsc writes files without the executable bit; the package's bins (`npx emseg`, `npx emseg-export`)
// are run directly, so mark them executable after every build.
for (const bin of ['dist/cli/emseg.js', 'dist/cli/emseg-export.js']) chmodSync(join(root, bin), 0o755);
