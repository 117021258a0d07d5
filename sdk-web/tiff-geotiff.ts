import { fromArrayBuffer } from 'geotiff';
import { EmsegError } from '../core/errors.ts';
import { interleavedToGrey } from '../core/formats/grey.ts';
import { checkImageSize } from '../core/formats/limits.ts';
import type { EmImage, PixelArray, PixelDType } from '../core/formats/types.ts';

/**
 * TIFF that core/ does not parse itself (LZW, Deflate, PackBits, zstd, JPEG compression; several
 * samples per pixel), decoded in a browser by geotiff.js (maintained, pure JavaScript, no worker pool
 * used here: this already runs in the SDK's worker). Its own chunk of the bundle, loaded on the first
 * such file. Colour becomes grey with core's conversion; bit depth is kept (8, 16, 32-bit integers
 * and floats), as sharp does in Node.
 */
export async function decodeTiffWithGeotiff(bytes: Uint8Array, name: string, page: number): Promise<EmImage> {
  const fail = (e: unknown): never => {
    throw e instanceof EmsegError ? e : new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: cannot decode TIFF: ${(e as Error).message}`, { file: name, cause: e });
  };
  try {
    const tiff = await fromArrayBuffer(bytes.slice().buffer);
    const pages = await tiff.getImageCount();
    if (page >= pages) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: page ${page} does not exist (the file has ${pages} page${pages === 1 ? '' : 's'})`, { file: name });
    const image = await tiff.getImage(page);
    const width = image.getWidth(), height = image.getHeight(), samples = image.getSamplesPerPixel();
    checkImageSize(width, height, name);
    const bits = image.getBitsPerSample(0);
    const format = image.getSampleFormat(0); // 1 unsigned, 2 signed, 3 float
    const dtype: PixelDType | undefined =
      format === 3 ? (bits === 32 ? 'float32' : bits === 64 ? 'float64' : undefined) :
      bits === 8 ? (format === 2 ? 'int8' : 'uint8') :
      bits === 16 ? (format === 2 ? 'int16' : 'uint16') :
      bits === 32 ? (format === 2 ? 'int32' : 'uint32') : undefined;
    if (!dtype) throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${bits}-bit TIFF samples (sample format ${format}) are not supported`, { file: name });
    const raster = (await image.readRasters({ interleave: true })) as unknown as PixelArray;
    if (raster.length !== width * height * samples) throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${name}: the TIFF holds ${raster.length} samples, its header declares ${width} x ${height} x ${samples}`, { file: name });
    let data = raster;
    if (samples > 1) {
      // RGB(A) becomes luminance and grey + alpha its grey, with the conversion the PNG reader uses.
      if (dtype === 'uint8') data = interleavedToGrey(raster as Uint8Array, samples, 255, new Uint8Array(width * height));
      else if (dtype === 'uint16') data = interleavedToGrey(raster as Uint16Array, samples, 65535, new Uint16Array(width * height));
      else throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${samples} samples per pixel of ${dtype} are not supported (grey ${dtype}, or 8/16-bit colour, are)`, { file: name });
    }
    return { format: 'TIFF', width, height, dtype, data, pixelSize: null, metadata: { pages, page } };
  } catch (e) {
    return fail(e);
  }
}
