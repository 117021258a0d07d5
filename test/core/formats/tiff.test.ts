import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toNanometres } from '../../../core/formats/limits.ts';
import { isTiff, readTiffInfo, readTiffPixels } from '../../../core/formats/tiff.ts';
import { encodeTiff } from '../../../core/formats/tiff-write.ts';
import { type TiffPage, type TiffTag, buildTiff } from '../../helpers/tiff-builder.ts';
import { closeRel, expectEmsegError, loadFormatFile, manifestEntries, pixelStats } from '../../helpers/em-formats.ts';

const tiffEntries = manifestEntries((f) => f.file.startsWith('tiff/'));

/** A single-strip 8-bit `w` x `h` page, plus extra tags. */
function page8(w: number, h: number, extra: TiffTag[] = [], data?: Uint8Array): TiffPage {
  const pixels = data ?? Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 251);
  return {
    data: pixels,
    tags: [
      { tag: 256, type: 4, values: [w] },
      { tag: 257, type: 4, values: [h] },
      { tag: 258, type: 3, values: [8] },
      { tag: 259, type: 3, values: [1] },
      { tag: 262, type: 3, values: [1] },
      { tag: 273, type: 4, values: (at) => [at] },
      { tag: 277, type: 3, values: [1] },
      { tag: 278, type: 4, values: [h] },
      { tag: 279, type: 4, values: [pixels.length] },
      ...extra,
    ],
  };
}

describe('TIFF reader: real EM files from the shared manifest', () => {
  assert.equal(tiffEntries.length, 5);
  for (const entry of tiffEntries) {
    it(`${entry.file}: size, dtype, calibration and pixels`, () => {
      const bytes = loadFormatFile(entry.file);
      assert.ok(isTiff(bytes));
      const info = readTiffInfo(bytes, { name: entry.file });
      assert.equal(info.width, entry.width);
      assert.equal(info.height, entry.height);
      assert.equal(info.dtype, entry.dtype);
      assert.equal(info.pages, 1);
      assert.equal(info.samplesPerPixel, 1);
      assert.equal(info.compression, 1);

      // Calibration, converted to the manifest's unit, to 1e-6 relative; the unit must be a length.
      assert.ok(info.calibration && info.pixelSize, 'calibrated');
      const unit = entry.calibration.unit as string;
      const perManifestUnit = toNanometres(1, unit) as number;
      const stated = info.calibration;
      const statedNm = toNanometres(1, stated.unit);
      assert.ok(statedNm !== null, `calibration unit ${stated.unit} is a length`);
      closeRel((stated.x * statedNm) / perManifestUnit, entry.calibration.x_scale!, 1e-6, 'calibration x');
      closeRel((stated.y * statedNm) / perManifestUnit, entry.calibration.y_scale!, 1e-6, 'calibration y');
      closeRel(info.pixelSize.x, entry.calibration.x_scale! * perManifestUnit, 1e-6, 'pixelSize x (nm)');
      closeRel(info.pixelSize.y, entry.calibration.y_scale! * perManifestUnit, 1e-6, 'pixelSize y (nm)');
      const expectedSource = entry.format.includes('FEI') ? 'fei' : entry.format.includes('Zeiss') ? 'zeiss' : 'imagej';
      assert.equal(info.source, expectedSource);

      // All five are uncompressed, so the browser decoder handles them.
      const image = readTiffPixels(bytes, { name: entry.file });
      assert.equal(image.format, 'TIFF');
      assert.equal(image.width, entry.width);
      assert.equal(image.height, entry.height);
      assert.equal(image.dtype, entry.dtype);
      assert.equal(image.data.length, entry.width * entry.height);
      assert.deepEqual(image.pixelSize, info.pixelSize);
      const checks = entry.pixel_checks ?? {};
      const s = pixelStats(image.data);
      if ('sum' in checks) closeRel(s.sum, checks.sum as number, 1e-9, 'sum');
      if ('min' in checks) assert.equal(s.min, checks.min);
      if ('max' in checks) assert.equal(s.max, checks.max);
      if ('nonzero_pixels' in checks) assert.equal(s.nonzero, checks.nonzero_pixels);
      if ('[0,0]' in checks) assert.equal(image.data[0], checks['[0,0]']);
    });
  }

  it('FEI: vendor tag wins over the 64 dpi XResolution, which alone is no calibration', () => {
    const bytes = loadFormatFile('tiff/FEI-Helios-Ebeam-8bits.tif');
    const info = readTiffInfo(bytes, { name: 'fei.tif' });
    assert.deepEqual(info.calibration, { x: 3.3724e-6, y: 3.3724e-6, unit: 'm' });
    assert.equal(info.tags['FEI.ResolutionY'], '442'); // 442 scan rows + a 29-row data bar
    assert.equal(info.tags['FEI.DatabarHeight'], '29');
    // Rename tag 34682 so only the standard fields remain: 64 dpi (397 µm pixels) must be ignored.
    const copy = bytes.slice();
    const v = new DataView(copy.buffer);
    const ifd = v.getUint32(4, true);
    const n = v.getUint16(ifd, true);
    let renamed = false;
    for (let i = 0; i < n; i++) {
      if (v.getUint16(ifd + 2 + i * 12, true) === 34682) {
        v.setUint16(ifd + 2 + i * 12, 65000, true);
        renamed = true;
      }
    }
    assert.ok(renamed);
    const bare = readTiffInfo(copy, { name: 'fei-no-vendor.tif' });
    assert.equal(bare.calibration, null);
    assert.equal(bare.pixelSize, null);
    assert.equal(bare.source, null);
  });

  it('Zeiss 512 px: the stated 5.825 nm is for a 1024-px frame; the image pixel is 11.65 nm', () => {
    const info = readTiffInfo(loadFormatFile('tiff/test_tiff_Zeiss_SEM_512pix.tif'), { name: 'z512.tif' });
    assert.equal(info.tags['Zeiss.PixelSize'], '5.825 nm');
    assert.equal(info.tags['Zeiss.Width'], '5.965 \u00b5m');
    closeRel(info.pixelSize?.x ?? NaN, 11.649976, 1e-9, 'pixel size');
    const k1 = readTiffInfo(loadFormatFile('tiff/test_tiff_Zeiss_SEM_1k.tif'), { name: 'z1k.tif' });
    closeRel(k1.pixelSize?.x ?? NaN, 2614.514, 1e-9, 'pixel size');
  });

  it('ImageJ: 1/XResolution in the description unit, "micron" read as µm', () => {
    const info = readTiffInfo(loadFormatFile('tiff/test_loading_image_saved_with_imageJ.tif'), { name: 'ij.tif' });
    assert.equal(info.calibration?.unit, '\u00b5m');
    closeRel(info.calibration?.x ?? NaN, 1_000_000 / 5_928_571, 1e-12, 'x');
    assert.equal(info.littleEndian, false);
    assert.match(info.tags.ImageDescription, /^ImageJ=1\.51a\nunit=micron/);
  });
});

describe('TIFF reader: layouts', () => {
  it('reads BigTIFF and big-endian files, multi-page with page selection', () => {
    const a = Uint8Array.from({ length: 12 }, (_, i) => i);
    const b = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
    for (const opts of [{ le: true, big: false }, { le: false, big: false }, { le: true, big: true }, { le: false, big: true }]) {
      const file = buildTiff([page8(4, 3, [], a), page8(4, 3, [], b)], opts);
      assert.ok(isTiff(file));
      const info = readTiffInfo(file, { name: 'multi.tif' });
      assert.equal(info.pages, 2);
      assert.equal(info.bigTiff, opts.big);
      assert.equal(info.littleEndian, opts.le);
      assert.deepEqual([...readTiffPixels(file, { name: 'multi.tif', page: 1 }).data], [...b]);
      assert.deepEqual([...readTiffPixels(file, { name: 'multi.tif' }).data], [...a]);
      expectEmsegError(() => readTiffInfo(file, { name: 'multi.tif', page: 2 }), 'EMSEG_INVALID_ARGUMENT', 'multi.tif');
    }
  });

  it('reads 16-bit big-endian strips and 16-bit tiles with edge tiles', () => {
    // 5 x 3 uint16, big-endian, strips of 2 rows.
    const w = 5, h = 3;
    const values = Array.from({ length: w * h }, (_, i) => 1000 * i + 7);
    const data = new Uint8Array(w * h * 2);
    values.forEach((x, i) => new DataView(data.buffer).setUint16(2 * i, x, false));
    const strips: TiffPage = {
      data,
      tags: [
        { tag: 256, type: 3, values: [w] }, { tag: 257, type: 3, values: [h] }, { tag: 258, type: 3, values: [16] },
        { tag: 273, type: 4, values: (at) => [at, at + 2 * w * 2] }, { tag: 278, type: 3, values: [2] },
        { tag: 279, type: 4, values: [2 * w * 2, w * 2] },
      ],
    };
    const img = readTiffPixels(buildTiff([strips], { le: false }), { name: 'be16.tif' });
    assert.equal(img.dtype, 'uint16');
    assert.deepEqual([...img.data], values);

    // 5 x 3 uint16 in 4 x 2 tiles (2 x 2 tiles, the right and bottom ones partly outside the image).
    const tw = 4, th = 2;
    const tiles = new Uint8Array(4 * tw * th * 2);
    const tv = new DataView(tiles.buffer);
    for (let t = 0; t < 4; t++) {
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const gx = (t % 2) * tw + x, gy = Math.floor(t / 2) * th + y;
          const val = gx < w && gy < h ? values[gy * w + gx] : 0xdead;
          tv.setUint16(((t * th + y) * tw + x) * 2, val, true);
        }
      }
    }
    const tiled: TiffPage = {
      data: tiles,
      tags: [
        { tag: 256, type: 3, values: [w] }, { tag: 257, type: 3, values: [h] }, { tag: 258, type: 3, values: [16] },
        { tag: 322, type: 3, values: [tw] }, { tag: 323, type: 3, values: [th] },
        { tag: 324, type: 4, values: (at) => [0, 1, 2, 3].map((t) => at + t * tw * th * 2) },
        { tag: 325, type: 4, values: [tw * th * 2, tw * th * 2, tw * th * 2, tw * th * 2] },
      ],
    };
    assert.deepEqual([...readTiffPixels(buildTiff([tiled]), { name: 'tiles.tif' }).data], values);
  });

  it('decodes int16, int32 and float32 samples', () => {
    for (const [bits, format, dtype, arr] of [
      [16, 2, 'int16', Int16Array.of(-3, 5, -32768, 32767)],
      [32, 2, 'int32', Int32Array.of(-70000, 1, 2, 2 ** 31 - 1)],
      [32, 3, 'float32', Float32Array.of(-1.5, 0.25, 3e10, Number.NaN)],
    ] as const) {
      const data = new Uint8Array(arr.buffer.slice(0));
      const file = buildTiff([{
        data,
        tags: [
          { tag: 256, type: 3, values: [2] }, { tag: 257, type: 3, values: [2] }, { tag: 258, type: 3, values: [bits] },
          { tag: 273, type: 4, values: (at) => [at] }, { tag: 279, type: 4, values: [data.length] }, { tag: 339, type: 3, values: [format] },
        ],
      }]);
      const img = readTiffPixels(file, { name: `${dtype}.tif` });
      assert.equal(img.dtype, dtype);
      assert.deepEqual([...img.data], [...arr]);
    }
  });

  it('generic XResolution only when plausible as a microscope calibration', () => {
    const res = (unit: number, num: number, den: number): TiffTag[] => [
      { tag: 282, type: 5, values: [num, den] },
      { tag: 283, type: 5, values: [num, den] },
      { tag: 296, type: 3, values: [unit] },
    ];
    const info = (tags: TiffTag[]) => readTiffInfo(buildTiff([page8(2, 2, tags)]), { name: 'res.tif' });
    // 1e5 pixels per cm = 100 nm pixels: accepted, stated in cm.
    const cm = info(res(3, 100000, 1));
    assert.equal(cm.source, 'resolution');
    assert.deepEqual(cm.calibration, { x: 1e-5, y: 1e-5, unit: 'cm' });
    closeRel(cm.pixelSize?.x ?? NaN, 100, 1e-12, 'cm pixel');
    // A non-integer density in inches (a calibration saved as dpi): 2.54 cm / 254000.5 px.
    const inch = info(res(2, 508001, 2));
    assert.equal(inch.source, 'resolution');
    closeRel(inch.pixelSize?.x ?? NaN, 2.54e7 / 254000.5, 1e-12, 'inch pixel');
    // Screen, print and scanner densities are not calibrations.
    for (const dpi of [64, 72, 96, 300, 2400, 4800]) assert.equal(info(res(2, dpi, 1)).calibration, null, `${dpi} dpi`);
    assert.equal(info(res(3, 100, 1)).calibration, null, '100 px/cm = 100 µm pixels');
    // ResolutionUnit none carries no length (unless ImageJ names one).
    assert.equal(info(res(1, 5, 1)).calibration, null);
    const ij = info([...res(1, 5, 1), { tag: 270, type: 2, values: 'ImageJ=1.54f\nunit=nm\n' }]);
    assert.deepEqual(ij.calibration, { x: 0.2, y: 0.2, unit: 'nm' });
    assert.equal(ij.source, 'imagej');
    const pixelUnit = info([...res(1, 5, 1), { tag: 270, type: 2, values: 'ImageJ=1.54f\nunit=pixel\n' }]);
    assert.equal(pixelUnit.calibration, null);
  });
});

describe('TIFF reader: bad input', () => {
  const good = loadFormatFile('tiff/FEI-Helios-Ebeam-16bits.tif'); // IFD at the end of the file
  const ifdFirst = loadFormatFile('tiff/test_tiff_Zeiss_SEM_1k.tif'); // IFD and tags before the pixels

  it('truncated files', () => {
    expectEmsegError(() => readTiffInfo(good.slice(0, 8), { name: 'header-only.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'header-only.tif');
    expectEmsegError(() => readTiffInfo(good.slice(0, 5), { name: 'short.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'short.tif');
    const cut = Math.floor(good.length * 0.6);
    expectEmsegError(() => readTiffInfo(good.slice(0, cut), { name: 'fei-60.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'fei-60.tif');
    const cut2 = Math.floor(ifdFirst.length * 0.6);
    expectEmsegError(() => readTiffInfo(ifdFirst.slice(0, cut2), { name: 'zeiss-60.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'zeiss-60.tif', /strip 0/);
    expectEmsegError(() => readTiffPixels(ifdFirst.slice(0, cut2), { name: 'zeiss-60.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'zeiss-60.tif');
  });

  it('wrong magic and non-TIFF bytes', () => {
    const bad = good.slice();
    bad[2] = 41;
    assert.equal(isTiff(bad), false);
    expectEmsegError(() => readTiffInfo(bad, { name: 'magic.tif' }), 'EMSEG_FORMAT_BAD_HEADER', 'magic.tif', /magic number is 41/);
    const text = new Uint8Array([...'hello, world'].map((c) => c.charCodeAt(0)));
    assert.equal(isTiff(text), false);
    expectEmsegError(() => readTiffInfo(text, { name: 'text.tif' }), 'EMSEG_FORMAT_UNKNOWN', 'text.tif');
  });

  it('IFD offset beyond the file, and a zero IFD offset', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(4, bad.length + 100, true);
    expectEmsegError(() => readTiffInfo(bad, { name: 'far.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'far.tif');
    new DataView(bad.buffer).setUint32(4, 0, true);
    expectEmsegError(() => readTiffInfo(bad, { name: 'none.tif' }), 'EMSEG_FORMAT_BAD_HEADER', 'none.tif');
  });

  it('IFD cycles', () => {
    // Self-loop: the only IFD points to itself.
    const file = encodeTiff({ width: 3, height: 2, dtype: 'uint8', data: new Uint8Array(6) });
    const v = new DataView(file.buffer);
    const ifd = v.getUint32(4, true);
    const n = v.getUint16(ifd, true);
    v.setUint32(ifd + 2 + n * 12, ifd, true);
    expectEmsegError(() => readTiffInfo(file, { name: 'self.tif' }), 'EMSEG_FORMAT_BAD_HEADER', 'self.tif', /loops/);
    // Two IFDs pointing at each other.
    const two = buildTiff([page8(2, 2), page8(2, 2)]);
    const tv = new DataView(two.buffer);
    const first = tv.getUint32(4, true);
    tv.setUint32(two.length - 4, first, true);
    expectEmsegError(() => readTiffInfo(two, { name: 'pair.tif' }), 'EMSEG_FORMAT_BAD_HEADER', 'pair.tif', /loops/);
  });

  it('declared 100000 x 100000 is refused before any allocation', () => {
    const file = encodeTiff({ width: 3, height: 2, dtype: 'uint16', data: new Uint16Array(6) });
    const v = new DataView(file.buffer);
    // Entries 0 and 1 are ImageWidth / ImageLength (LONG, inline).
    assert.equal(v.getUint16(10, true), 256);
    assert.equal(v.getUint16(22, true), 257);
    v.setUint32(18, 100_000, true);
    v.setUint32(30, 100_000, true);
    expectEmsegError(() => readTiffInfo(file, { name: 'huge.tif' }), 'EMSEG_IMAGE_TOO_LARGE', 'huge.tif');
    expectEmsegError(() => readTiffPixels(file, { name: 'huge.tif' }), 'EMSEG_IMAGE_TOO_LARGE', 'huge.tif');
    v.setUint32(18, 0, true);
    expectEmsegError(() => readTiffInfo(file, { name: 'zero.tif' }), 'EMSEG_FORMAT_BAD_HEADER', 'zero.tif');
  });

  it('compressed pixels: typed unsupported error naming the compression', () => {
    const lzw = buildTiff([page8(2, 2, [], new Uint8Array(4))].map((p) => ({
      ...p,
      tags: p.tags.map((t) => (t.tag === 259 ? { ...t, values: [5] } : t)),
    })));
    const info = readTiffInfo(lzw, { name: 'lzw.tif' });
    assert.equal(info.compression, 5);
    expectEmsegError(() => readTiffPixels(lzw, { name: 'lzw.tif' }), 'EMSEG_FORMAT_UNSUPPORTED', 'lzw.tif', /LZW/);
  });

  it('strip offsets pointing past the end', () => {
    const file = buildTiff([page8(4, 4, [])]);
    const bad = buildTiff([{ ...page8(4, 4), tags: page8(4, 4).tags.map((t) => (t.tag === 273 ? { ...t, values: [file.length + 10] } : t)) }]);
    expectEmsegError(() => readTiffPixels(bad, { name: 'strip.tif' }), 'EMSEG_FORMAT_TRUNCATED', 'strip.tif');
  });
});
