import { open, readFile, stat } from 'node:fs/promises';
import { EmsegError } from '../core/errors.ts';
import { type ImageDecoders, decodeImage } from '../core/formats/decode-image.ts';
import { type DetectedFormat, detectFormat } from '../core/formats/detect.ts';
import { serCompanionEmiPath } from '../core/formats/ser.ts';
import type { EmImage } from '../core/formats/types.ts';
import { decodeWithSharp } from './decode-with-sharp.ts';
import { readEmdFile } from './emd-file.ts';

export interface ReadImageOptions {
  /** Image of a stack or multi-page file (default 0). */
  page?: number;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (s.size === 0) throw new EmsegError('EMSEG_FORMAT_UNKNOWN', `${path}: file is empty`, { file: path });
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof EmsegError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected an image file' : (e as Error).message;
    throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read: ${why}`, { file: path, cause: e });
  }
}

/** The format of a file from its first bytes (cheap: reads 4 KiB). */
export async function detectFileFormat(path: string): Promise<DetectedFormat | null> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(4096);
    const { bytesRead } = await fh.read(head, 0, 4096, 0);
    return detectFormat(head.subarray(0, bytesRead), path);
  } finally {
    await fh.close();
  }
}

/**
 * Read any image emseg knows (DM3/DM4, MRC/MRCS, SER, Velox/Berkeley EMD, TIFF, PNG, JPEG) as one
 * grey channel in its own bit depth, with the pixel size in nm when the file is calibrated.
 * Microscope formats are parsed by `core/` (shared with the browser); PNG, JPEG and compressed TIFF
 * pixels are decoded by sharp; EMD (HDF5) through h5wasm.
 */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<EmImage> {
  const page = options.page ?? 0;
  if (!Number.isInteger(page) || page < 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${path}: page must be a non-negative integer, received ${page}`, { file: path });
  return decodeImageBytes(await readBytes(path), path, options, true);
}

/**
 * Decode an image file's bytes already in memory (`name` labels errors). EMD (HDF5) and the
 * companion .emi of a SER need the file on disk: give `readImage` a path for those.
 */
export async function readImageBytes(bytes: Uint8Array, name = 'image', options: ReadImageOptions = {}): Promise<EmImage> {
  if (bytes.length === 0) throw new EmsegError('EMSEG_FORMAT_UNKNOWN', `${name}: the image buffer is empty`, { file: name });
  return decodeImageBytes(bytes, name, options, false);
}

/**
 * The Node decoders: sharp for rasters, the .emi next to a SER file. EMD never reaches them: from a
 * file it is read in the EMD worker (decodeImageBytes), from bytes it is refused by core.
 */
function nodeDecoders(onDisk: boolean): ImageDecoders {
  return {
    raster: (bytes, name, format, page) => decodeWithSharp(bytes, name, format, page),
    ...(onDisk
      ? {
          serCompanion: async (name: string) => {
            const emiPath = serCompanionEmiPath(name);
            return emiPath ? await readFile(emiPath).then((b) => new Uint8Array(b)).catch(() => undefined) : undefined;
          },
        }
      : {}),
  };
}

function decodeImageBytes(bytes: Uint8Array, path: string, options: ReadImageOptions, onDisk: boolean): Promise<EmImage> {
  // EMD from disk: HDF5 runs in a worker that is stopped if a corrupt file makes it loop (emd-file.ts).
  if (onDisk && detectFormat(bytes, path) === 'HDF5') return readEmdFile(path, options.page ?? 0);
  return decodeImage(bytes, path, options.page ?? 0, nodeDecoders(onDisk));
}
