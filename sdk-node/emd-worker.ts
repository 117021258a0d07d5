import { parentPort } from 'node:worker_threads';
import { isEmsegError } from '../core/errors.ts';
import { readEmd } from '../core/formats/emd.ts';
import type { EmImage } from '../core/formats/types.ts';
import { openHdf5 } from './hdf5-h5wasm.ts';

/** The EMD reader's worker thread (see emd-file.ts): one file at a time, HDF5 (h5wasm) in this thread. */
const port = parentPort;
if (!port) throw new Error('emd-worker runs in a worker thread');

port.on('message', (m: { id: number; path: string; page: number }) => {
  void (async () => {
    let image: EmImage;
    try {
      const file = await openHdf5(m.path);
      try {
        image = readEmd(file.root, { name: m.path, page: m.page });
      } finally {
        file.close();
      }
    } catch (e) {
      const error = isEmsegError(e)
        ? { code: e.code, message: e.message, file: e.file, path: e.path }
        : { message: e instanceof Error ? e.message : String(e), name: e instanceof Error ? e.constructor.name : typeof e, stack: e instanceof Error ? e.stack : undefined };
      port.postMessage({ id: m.id, error });
      return;
    }
    port.postMessage({ id: m.id, image });
  })();
});
port.postMessage({ ready: true });
