import { EmsegError } from '../errors.ts';
import { type DetectedFormat, detectFormat } from './detect.ts';
import { readDm } from './dm.ts';
import { readEmd } from './emd.ts';
import type { Hdf5Node } from './hdf5.ts';
import { readMrc } from './mrc.ts';
import { readSer } from './ser.ts';
import { readTiffInfo, readTiffPixels } from './tiff.ts';
import type { EmImage } from './types.ts';

/**
 * Any image emseg reads, from its bytes, the same way in Node and in browsers: the format from the
 * magic bytes, microscope formats parsed here in core/, and only what needs a codec handed to the
 * host's decoders (sharp in Node; fast-png, the browser's JPEG decoder, geotiff in the web SDK;
 * h5wasm for EMD in both).
 */
export interface ImageDecoders {
  /** PNG, JPEG and TIFF that core/ does not parse (compressed, several samples, odd bit depths): one grey channel. */
  raster(bytes: Uint8Array, name: string, format: 'PNG' | 'JPEG' | 'TIFF', page: number): Promise<EmImage>;
  /** The root group of an HDF5 file (EMD) and a way to close it; absent: EMD is refused with a clear error. */
  hdf5?(bytes: Uint8Array, name: string): Promise<{ root: Hdf5Node; close(): void }>;
  /** A SER file's companion .emi (units: real or reciprocal space), when the host can find it. */
  serCompanion?(name: string): Promise<Uint8Array | undefined>;
}

export async function decodeImage(bytes: Uint8Array, name: string, page: number, decoders: ImageDecoders): Promise<EmImage> {
  if (!Number.isInteger(page) || page < 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: page must be a non-negative integer, received ${page}`, { file: name });
  if (bytes.length === 0) throw new EmsegError('EMSEG_FORMAT_UNKNOWN', `${name}: the image is empty`, { file: name });
  const format: DetectedFormat | null = detectFormat(bytes, name);
  const common = { name, page };
  switch (format) {
    case 'DM':
      return readDm(bytes, common);
    case 'MRC':
      return readMrc(bytes, common);
    case 'SER':
      // TIA keeps units in the companion .emi: it tells real from reciprocal space.
      return readSer(bytes, { ...common, emi: await decoders.serCompanion?.(name) });
    case 'HDF5': {
      if (!decoders.hdf5) throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: EMD (HDF5) images are read from files; pass the path instead of the bytes`, { file: name });
      const file = await decoders.hdf5(bytes, name);
      try {
        return readEmd(file.root, common);
      } finally {
        file.close();
      }
    }
    case 'TIFF': {
      const info = readTiffInfo(bytes, common);
      // Uncompressed whole-byte grey samples are parsed here; anything else by the host's decoder.
      const simple = info.compression === 1 && info.samplesPerPixel === 1 && [8, 16, 32, 64].includes(info.bitsPerSample);
      const image = simple ? readTiffPixels(bytes, common) : await decoders.raster(bytes, name, 'TIFF', page);
      return { ...image, format: 'TIFF', pixelSize: info.pixelSize, metadata: { ...image.metadata, pages: info.pages, page, calibration: info.calibration, calibrationSource: info.source, tags: info.tags } };
    }
    case 'PNG':
    case 'JPEG':
      return decoders.raster(bytes, name, format, page);
    default:
      throw new EmsegError(
        'EMSEG_FORMAT_UNKNOWN',
        `${name}: not an image format emseg reads (expected DM3/DM4, MRC, SER, EMD, TIFF, PNG or JPEG; first bytes ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`,
        { file: name },
      );
  }
}
