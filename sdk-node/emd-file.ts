import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { EmsegError, type EmsegErrorCode } from '../core/errors.ts';
import type { EmImage } from '../core/formats/types.ts';

/**
 * EMD (HDF5) files are read in a worker thread, so that the HDF5 library can be stopped: on some
 * corrupt object headers it loops forever inside its WebAssembly (found by test/fuzz: an attribute
 * read that never returns), which in the calling thread would hang `readImage`, a Detector or
 * `emseg analyze` for good. A read that takes longer than its bound (30 s plus 1 s per 8 MiB of file,
 * far above what a real file needs) ends the worker and is refused as EMSEG_FORMAT_BAD_HEADER naming
 * the file; the next read starts a fresh worker. One worker per thread, started on the first EMD
 * file, reads one file at a time and does not keep the process alive when idle.
 */

const BASE_TIMEOUT_MS = 30_000;
const MS_PER_BYTE = 1000 / 2 ** 23;

/** Bound on a worker's start (loading h5wasm; from TypeScript sources, compiling them). */
const START_TIMEOUT_MS = 300_000;

let worker: { w: Worker; ready: Promise<void> } | null = null;
let nextId = 0;
let queue: Promise<unknown> = Promise.resolve();

function spawn(): { w: Worker; ready: Promise<void> } {
  const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);
  const entry = new URL(`./emd-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
  const w = new Worker(bootstrap, { workerData: { entry } });
  const slot = {
    w,
    // The time bound of a read starts once the worker is up, so a slow start is never taken for a corrupt file.
    ready: new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the EMD reader's worker did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const onMessage = (m: { ready?: boolean }): void => {
        if (!m.ready) return;
        clearTimeout(timer);
        w.off('message', onMessage);
        resolve();
      };
      w.on('message', onMessage);
      w.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the EMD reader's worker exited (code ${code}) as it started`));
      });
    }),
  };
  slot.ready.catch(() => {});
  w.unref();
  w.on('exit', () => {
    if (worker === slot) worker = null;
  });
  return slot;
}

type WorkerReply =
  | { id: number; image: EmImage }
  | { id: number; error: { code?: EmsegErrorCode; message: string; file?: string; path?: string; name?: string; stack?: string } };

async function read(path: string, page: number, timeoutMs: number): Promise<EmImage> {
  const slot = (worker ??= spawn());
  const w = slot.w;
  const id = ++nextId;
  w.ref();
  try {
    await slot.ready;
  } catch (e) {
    w.unref();
    if (worker === slot) worker = null;
    void w.terminate();
    throw new EmsegError('EMSEG_WORKER_FAILED', `${path}: ${(e as Error).message}`, { file: path, cause: e });
  }
  return new Promise<EmImage>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      w.off('error', onError);
      w.unref();
    };
    const timer = setTimeout(() => {
      done();
      if (worker === slot) worker = null;
      void w.terminate();
      reject(new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${path}: the HDF5 library did not finish reading the file within ${Math.round(timeoutMs / 1000)} s (it loops on some corrupt object headers): the file is corrupt`, { file: path }));
    }, timeoutMs);
    let crash = '';
    const onError = (e: Error): void => {
      crash = e.message;
    };
    const onExit = (code: number): void => {
      done();
      reject(new EmsegError('EMSEG_WORKER_FAILED', `${path}: the EMD reader's worker stopped (exit code ${code}${crash ? `: ${crash}` : ''}) while reading the file`, { file: path }));
    };
    const onMessage = (m: WorkerReply): void => {
      if (m.id !== id) return;
      done();
      if ('image' in m) resolve(m.image);
      else if (m.error.code) reject(new EmsegError(m.error.code, m.error.message, { file: m.error.file, path: m.error.path }));
      else reject(Object.assign(new Error(m.error.message), { name: m.error.name ?? 'Error', stack: m.error.stack }));
    };
    w.on('message', onMessage);
    w.on('exit', onExit);
    w.on('error', onError);
    w.postMessage({ id, path, page });
  });
}

/** One image of an EMD file (Velox or Berkeley), read in the EMD worker with a time bound. */
export function readEmdFile(path: string, page: number, options: { timeoutMs?: number } = {}): Promise<EmImage> {
  const run = queue.then(async () => {
    const size = await stat(path).then((s) => s.size, () => 0);
    return read(path, page, options.timeoutMs ?? BASE_TIMEOUT_MS + size * MS_PER_BYTE);
  });
  queue = run.catch(() => undefined);
  return run;
}
