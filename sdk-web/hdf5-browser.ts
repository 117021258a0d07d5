import h5wasm, { FS, ready } from 'h5wasm';
import { type Hdf5Node, vetHdf5 } from '../core/formats/hdf5.ts';
import { openedH5wasmFile, wrapH5 } from '../core/formats/h5wasm-node.ts';

/**
 * HDF5 (EMD) in a browser: h5wasm's ESM build (HDF5 as WebAssembly, embedded in its JavaScript, so
 * nothing is fetched) reads the bytes from its in-memory file system. This module is its own chunk of
 * the bundle, loaded the first time an EMD file arrives (it is 4 MB; most users never open one).
 */
let files = 0;

export async function openHdf5Bytes(bytes: Uint8Array, name: string): Promise<{ root: Hdf5Node; close(): void }> {
  await vetHdf5(bytes.length, async (offset, length) => bytes.subarray(offset, offset + length), name);
  await ready;
  const fs = FS as unknown as { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void };
  const path = `/emseg-${++files}.h5`;
  fs.writeFile(path, bytes);
  let file: InstanceType<typeof h5wasm.File>;
  try {
    file = wrapH5(name, 'the file', () => new h5wasm.File(path, 'r'));
  } catch (e) {
    fs.unlink(path);
    throw e;
  }
  return openedH5wasmFile(h5wasm, name, file, () => fs.unlink(path));
}
