import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EmsegError } from '../../../core/errors.ts';
import { readTiffInfo, readTiffPixels } from '../../../core/formats/tiff.ts';
import { bestRational, encodeTiff, type TiffWriteImage } from '../../../core/formats/tiff-write.ts';
import { closeRel } from '../../helpers/em-formats.ts';
import { repoRoot, seededRandom } from '../../helpers/fixtures.ts';
import { requireTool } from '../../helpers/tools.ts';

function randomImage(dtype: TiffWriteImage['dtype'], width: number, height: number, seed: number): TiffWriteImage {
  const rand = seededRandom(seed);
  const n = width * height;
  const data =
    dtype === 'uint8' ? Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)) :
    dtype === 'uint16' ? Uint16Array.from({ length: n }, () => Math.floor(rand() * 65536)) :
    Float32Array.from({ length: n }, () => (rand() - 0.5) * 1e6);
  return { width, height, dtype, data };
}

describe('TIFF writer', () => {
  it('round-trips uint8, uint16 and float32 pixels exactly and the pixel size to 1e-9', () => {
    const sizes = [
      { x: 0.123456789012, y: 0.987654321 },
      { x: 27.11529563081865, y: 27.11529563081865 },
      { x: 3372.4, y: 3372.4 },
      { x: 1 / 3, y: Math.PI },
      { x: 1e-6, y: 1e9 },
    ];
    let seed = 1;
    for (const dtype of ['uint8', 'uint16', 'float32'] as const) {
      for (const pixelSize of sizes) {
        const image = { ...randomImage(dtype, 17 + seed, 9 + (seed % 5), seed++), pixelSize };
        const file = encodeTiff(image);
        const info = readTiffInfo(file, { name: 'rt.tif' });
        assert.equal(info.source, 'imagej');
        assert.equal(info.calibration?.unit, 'nm');
        assert.match(info.tags.ImageDescription, /^ImageJ=1\.54f\nunit=nm$/);
        const back = readTiffPixels(file, { name: 'rt.tif' });
        assert.equal(back.dtype, dtype);
        assert.equal(back.width, image.width);
        assert.equal(back.height, image.height);
        assert.deepEqual(back.data, image.data);
        closeRel(back.pixelSize?.x ?? NaN, pixelSize.x, 1e-9, 'x');
        closeRel(back.pixelSize?.y ?? NaN, pixelSize.y, 1e-9, 'y');
      }
    }
  });

  it('writes uncalibrated images without a unit', () => {
    const file = encodeTiff(randomImage('uint16', 5, 4, 3));
    const info = readTiffInfo(file, { name: 'plain.tif' });
    assert.equal(info.pixelSize, null);
    assert.equal(info.calibration, null);
    assert.equal(info.tags.ImageDescription, 'ImageJ=1.54f');
  });

  it('is byte-deterministic', () => {
    const a = randomImage('uint16', 31, 7, 11);
    const b = { ...a, data: Uint16Array.from(a.data as Uint16Array), pixelSize: { x: 1.25, y: 1.25 } };
    const first = encodeTiff({ ...a, pixelSize: { x: 1.25, y: 1.25 } }, { description: 'synthetic grains\nseed 11' });
    const second = encodeTiff(b, { description: 'synthetic grains\nseed 11' });
    assert.deepEqual(first, second);
    assert.notDeepEqual(first, encodeTiff(b, { description: 'synthetic grains\nseed 12' }));
  });

  it('appends a user description after the ImageJ lines and refuses ImageJ keys in it', () => {
    const image = { ...randomImage('uint8', 3, 3, 5), pixelSize: { x: 2, y: 2 } };
    const info = readTiffInfo(encodeTiff(image, { description: 'sample=alumina\nµ text' }), { name: 'd.tif' });
    assert.equal(info.tags.ImageDescription, 'ImageJ=1.54f\nunit=nm\nsample=alumina\n\u00b5 text');
    assert.equal(info.calibration?.unit, 'nm');
    for (const description of ['unit=µm', 'x\nimages=4', 'a\0b']) {
      assert.throws(() => encodeTiff(image, { description }), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_INVALID_ARGUMENT');
    }
  });

  it('splits large images into strips of at most 16 MiB', () => {
    const image = randomImage('uint16', 3000, 3000, 7); // 18 MB: two strips
    const file = encodeTiff({ ...image, pixelSize: { x: 0.5, y: 0.5 } });
    const back = readTiffPixels(file, { name: 'big.tif' });
    assert.deepEqual(back.data, image.data);
  });

  it('rejects bad input with EMSEG_INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      { width: 2, height: 2, dtype: 'uint16', data: new Uint8Array(4) },
      { width: 2, height: 2, dtype: 'uint8', data: new Uint8Array(3) },
      { width: 2, height: 2, dtype: 'int32', data: new Int32Array(4) },
      { width: 2, height: 2, dtype: 'uint8', data: new Uint8Array(4), pixelSize: { x: 0, y: 1 } },
      { width: 2, height: 2, dtype: 'uint8', data: new Uint8Array(4), pixelSize: { x: Number.NaN, y: 1 } },
    ];
    for (const image of bad) {
      assert.throws(() => encodeTiff(image as TiffWriteImage), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_INVALID_ARGUMENT');
    }
    assert.throws(() => encodeTiff({ width: 0, height: 2, dtype: 'uint8', data: new Uint8Array(0) }), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FORMAT_BAD_HEADER');
  });

  it('bestRational keeps 32-bit terms and is accurate well beyond 1e-9', () => {
    const rand = seededRandom(99);
    for (let i = 0; i < 2000; i++) {
      const x = 10 ** (rand() * 15 - 6); // 1e-6 .. 1e9
      const [p, q] = bestRational(x);
      assert.ok(Number.isInteger(p) && Number.isInteger(q) && p >= 1 && q >= 1 && p <= 0xffffffff && q <= 0xffffffff);
      // Relative error is at most ~x / 2^33 at the large end (1e9 nm: 1.2e-10), below the 1e-9 required.
      closeRel(p / q, x, 2e-10, `x=${x}`);
      if (x >= 1e-3 && x <= 1e4) closeRel(p / q, x, 1e-13, `x=${x} (EM range)`);
    }
    assert.deepEqual(bestRational(0.5), [1, 2]);
    assert.deepEqual(bestRational(3372.4), [16862, 5]);
  });

  it('sharp reads the 16-bit pixels back exactly', async (t) => {
    if (!requireTool(t, existsSync(join(repoRoot, 'node_modules', 'sharp')), 'sharp (npm ci installs it)')) return;
    const { default: sharp } = await import('sharp');
    const image = randomImage('uint16', 37, 23, 21);
    const file = encodeTiff({ ...image, pixelSize: { x: 0.75, y: 0.75 } });
    const { data, info } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 37);
    assert.equal(info.height, 23);
    assert.equal(info.channels, 1);
    const pixels = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    assert.deepEqual(pixels, image.data);
  });
});
