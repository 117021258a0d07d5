// Copies non-TypeScript runtime files that tsc does not emit into dist/ (worker bootstrap).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
for (const file of ['sdk-node/worker-bootstrap.mjs']) {
  mkdirSync(dirname(join(root, 'dist', file)), { recursive: true });
  copyFileSync(join(root, file), join(root, 'dist', file));
}
