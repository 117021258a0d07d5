import { decode as decodePng } from 'fast-png';
import { EmsegError } from '../core/errors.ts';
import type { ImageDecoders } from '../core/formats/decode-image.ts';
import { interleavedToGrey } from '../core/formats/grey.ts';
import { checkImageSize } from '../core/formats/limits.ts';
import type { EmImage } from '../core/formats/types.ts';

/**
 * The browser's decoders for what core/ does not parse: PNG with fast-png (8- and 16-bit kept: a
 * canvas would flatten 16-bit to 8), JPEG with the browser's own decoder (createImageBitmap, also in
 * workers), compressed or colour TIFF with geotiff.js and EMD (HDF5) with h5wasm, each of these two
 * loaded as its own chunk on first use (geotiff ~0.2 MB, h5wasm 4 MB with HDF5's WebAssembly inside).
 */
async function decodeJpeg(bytes: Uint8Array, name: string): Promise<EmImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: cannot decode JPEG: ${(e as Error).message}`, { file: name, cause: e });
  }
  const { width, height } = bitmap;
  checkImageSize(width, height, name);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: this browser has no 2D canvas to decode JPEG`, { file: name });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const grey = interleavedToGrey(new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength), 4, 255, new Uint8Array(width * height));
  return { format: 'JPEG', width, height, dtype: 'uint8', data: grey, pixelSize: null, metadata: { pages: 1, page: 0 } };
}

function decodePngBytes(bytes: Uint8Array, name: string): EmImage {
  let png;
  try {
    png = decodePng(bytes);
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: cannot decode PNG: ${(e as Error).message}`, { file: name, cause: e });
  }
  checkImageSize(png.width, png.height, name);
  const pixels = png.width * png.height;
  if (png.palette) {
    // Indexed colour: the palette's RGB through the same grey conversion.
    const rgb = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) rgb.set(png.palette[png.data[i]].slice(0, 3), i * 3);
    return { format: 'PNG', width: png.width, height: png.height, dtype: 'uint8', data: interleavedToGrey(rgb, 3, 255, new Uint8Array(pixels)), pixelSize: null, metadata: { pages: 1, page: 0 } };
  }
  if (png.depth === 16) {
    const data = interleavedToGrey(png.data as Uint16Array, png.channels, 65535, new Uint16Array(pixels));
    return { format: 'PNG', width: png.width, height: png.height, dtype: 'uint16', data, pixelSize: null, metadata: { pages: 1, page: 0 } };
  }
  if (png.depth !== 8) throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${name}: ${png.depth}-bit PNG samples are not supported in the browser yet`, { file: name });
  const data = interleavedToGrey(png.data as Uint8Array, png.channels, 255, new Uint8Array(pixels));
  return { format: 'PNG', width: png.width, height: png.height, dtype: 'uint8', data, pixelSize: null, metadata: { pages: 1, page: 0 } };
}

export const browserDecoders: ImageDecoders = {
  raster: async (bytes, name, format, page) => {
    if (format === 'PNG') return decodePngBytes(bytes, name);
    if (format === 'JPEG') return decodeJpeg(bytes, name);
    const { decodeTiffWithGeotiff } = await import('./tiff-geotiff.ts');
    return decodeTiffWithGeotiff(bytes, name, page);
  },
  hdf5: async (bytes, name) => (await import('./hdf5-browser.ts')).openHdf5Bytes(bytes, name),
};
