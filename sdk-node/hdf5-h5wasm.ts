import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import h5wasm from 'h5wasm/node';
import { EmsegError } from '../core/errors.ts';
import { type Hdf5Node, vetHdf5 } from '../core/formats/hdf5.ts';
import { openedH5wasmFile, wrapH5 } from '../core/formats/h5wasm-node.ts';

/**
 * HDF5 (EMD) files in Node: h5wasm's Node build reads the file from disk; the file is vetted first
 * (signature, truncation) by core's `vetHdf5` from a few hundred bytes read here.
 */

let ready: Promise<unknown> | null = null;

function h5ready(): Promise<unknown> {
  ready ??= h5wasm.ready;
  return ready;
}

async function vetHdf5File(path: string): Promise<void> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: not a regular file`, { file: path });
    size = st.size;
  } catch (e) {
    if (e instanceof EmsegError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: ${why}`, { file: path, cause: e });
  }
  const handle = await open(path, 'r');
  try {
    await vetHdf5(size, async (offset, length) => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    }, path);
  } finally {
    await handle.close();
  }
}

/**
 * Opens an HDF5 file read-only. Missing files give EMSEG_FILE_READ, non-HDF5 files
 * EMSEG_FORMAT_BAD_HEADER and truncated ones EMSEG_FORMAT_TRUNCATED, all naming the file.
 * Call `close()` when done (the HDF5 handle lives in WebAssembly memory, not the JS heap).
 */
export async function openHdf5(path: string): Promise<{ root: Hdf5Node; close(): void }> {
  const full = resolve(path);
  await vetHdf5File(full);
  await h5ready();
  const file = wrapH5(path, 'the file', () => new h5wasm.File(full, 'r'));
  return openedH5wasmFile(h5wasm, path, file);
}
