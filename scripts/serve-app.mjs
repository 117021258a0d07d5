// `npm run app`: build the web app and serve dist/app/ on http://127.0.0.1:PORT (default 8080) with the
// headers that enable WASM threads (cross-origin isolation). Any static host serves dist/app/ too.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'app');
if (!process.argv.includes('--no-build')) execFileSync(process.execPath, [join(root, 'scripts/build-app.mjs')], { stdio: 'inherit' });
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json' };
const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const file = normalize(join(dir, decodeURIComponent(path === '/' ? '/index.html' : path)));
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
    res.statusCode = 404;
    res.end('not found');
    return;
  }
  res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
  res.end(readFileSync(file));
}).listen(port, '127.0.0.1', () => console.log(`emseg app: http://127.0.0.1:${port}/`));
