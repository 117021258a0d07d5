/**
 * Benchmark: decoding EM images to typed arrays (what `emseg info` and every analysis start with).
 * - a 4096 x 4096 16-bit TIFF, uncompressed (as emseg's writer and many cameras write it; parsed by
 *   core/) and LZW-compressed (decoded by sharp/libvips);
 * - the largest real DM4, DM3 and SER files of ../shared/data/em-formats.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeTiff } from '../core/formats/tiff-write.ts';
import { seededRandom } from '../core/random.ts';
import { readImage } from '../sdk-node/read-image.ts';
import { sharedDir } from '../test/helpers/fixtures.ts';

async function best(path: string, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await readImage(path);
    times.push(performance.now() - t);
  }
  return Math.min(...times);
}

export async function benchDecode(outDir: string): Promise<Record<string, number | string>> {
  mkdirSync(outDir, { recursive: true });
  const raw = join(outDir, 'big-4096-u16.tif');
  const lzw = join(outDir, 'big-4096-u16-lzw.tif');
  if (!existsSync(raw) || !existsSync(lzw)) {
    const rand = seededRandom(1);
    const n = 4096;
    const data = new Uint16Array(n * n);
    for (let i = 0; i < data.length; i++) data[i] = 20000 + Math.floor(2000 * Math.sin(i / 5000)) + Math.floor(rand() * 500);
    writeFileSync(raw, encodeTiff({ width: n, height: n, dtype: 'uint16', data, pixelSize: { x: 0.5, y: 0.5 } }));
    await sharp(data, { raw: { width: n, height: n, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(lzw);
  }
  const em = join(sharedDir, 'data', 'em-formats');
  return {
    bench: 'decode (best of 5, ms)',
    tiff_4096_u16_uncompressed: Math.round(await best(raw)),
    tiff_4096_u16_lzw_sharp: Math.round(await best(lzw)),
    dm4_128x64_f32: +(await best(join(em, 'dm4/dmTest_float32_nonSquare_diffPixelSize.dm4'))).toFixed(2),
    dm3_512_u16: +(await best(join(em, 'dm3/multi_signal.dm3'))).toFixed(2),
    ser_1024_u16: +(await best(join(em, 'ser/16_STOimage_1.ser'))).toFixed(2),
    emd_velox_128: +(await best(join(em, 'emd/FFTComplexEven.emd'))).toFixed(2),
  };
}
