import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMrc, readMrc } from '../../../core/formats/mrc.ts';
import { halfToFloat } from '../../../core/formats/pixels.ts';
import type { EmImage } from '../../../core/formats/types.ts';
import { closeRel, editBytes, expectEmsegError, fuzzFormatFiles, loadFormatFile, manifestEntries } from '../../helpers/em-formats.ts';
import { arrayBufferGrowth } from '../../helpers/tools.ts';

const entries = manifestEntries((f) => f.format === 'MRC' || f.format === 'MRCS');

/** A minimal little-endian MRC2014 file: header words, then `pixels` bytes. */
function mrcFile(nx: number, ny: number, nz: number, mode: number, pixels: Uint8Array, words: Record<number, number> = {}): Uint8Array {
  const out = new Uint8Array(1024 + pixels.length);
  const v = new DataView(out.buffer);
  [nx, ny, nz, mode].forEach((x, i) => v.setInt32(4 * i, x, true));
  [nx, ny, nz].forEach((x, i) => v.setInt32(28 + 4 * i, x, true));
  [nx * 2, ny * 2, nz * 2].forEach((x, i) => v.setFloat32(40 + 4 * i, x, true));
  [1, 2, 3].forEach((x, i) => v.setInt32(64 + 4 * i, x, true));
  out.set([0x4d, 0x41, 0x50, 0x20, 0x44, 0x44], 208);
  for (const [at, x] of Object.entries(words)) v.setInt32(Number(at), x, true);
  out.set(pixels, 1024);
  return out;
}

describe('MRC reader: every MRC/MRCS/map file of the em-formats manifest', () => {
  assert.equal(entries.length, 3);
  for (const entry of entries) {
    it(`reads ${entry.file}`, () => {
      const bytes = loadFormatFile(entry.file);
      assert.equal(isMrc(bytes), true);
      const im = readMrc(bytes, { name: entry.file });
      const depth = entry.depth ?? 1;
      assert.equal(im.format, 'MRC');
      assert.equal(im.width, entry.width);
      assert.equal(im.height, entry.height);
      assert.equal(im.dtype, entry.dtype);
      assert.equal(im.metadata.pages, depth);
      assert.equal(im.metadata.page, 0);

      // MRC calibration is Å per pixel (CELLA / MX); the manifest gives it in Å or (HAADFscan) in nm.
      const cal = im.metadata.calibration as { x: number; y: number; z: number | null; unit: string };
      const toAngstrom = entry.calibration.unit === 'nm' ? 10 : 1;
      assert.ok(entry.calibration.unit === 'nm' || entry.calibration.unit === 'Å');
      assert.equal(cal.unit, 'Å');
      closeRel(cal.x, entry.calibration.x_scale! * toAngstrom, 1e-6, 'calibration x (Å)');
      closeRel(cal.y, entry.calibration.y_scale! * toAngstrom, 1e-6, 'calibration y (Å)');
      if (entry.calibration.header_voxel_size_angstrom) closeRel(cal.x, entry.calibration.header_voxel_size_angstrom[0], 1e-6, 'header voxel size');
      if (entry.calibration.z_scale !== undefined) closeRel(cal.z!, entry.calibration.z_scale, 1e-6, 'calibration z');
      closeRel(im.pixelSize!.x, (entry.calibration.x_scale! * toAngstrom) / 10, 1e-6, 'pixelSize x (nm)');
      closeRel(im.pixelSize!.y, (entry.calibration.y_scale! * toAngstrom) / 10, 1e-6, 'pixelSize y (nm)');

      const pages: EmImage[] = [];
      for (let z = 0; z < depth; z++) pages.push(z === 0 ? im : readMrc(bytes, { name: entry.file, page: z }));
      let sum = 0, min = Infinity, max = -Infinity;
      for (const p of pages) {
        for (const v of p.data) {
          sum += v;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      const isFloat = entry.dtype.startsWith('float');
      const checks = entry.pixel_checks!;
      // Float sums are given to 2-3 decimals in the manifest: 1e-6 relative is well inside that.
      if (typeof checks.sum === 'number') closeRel(sum, checks.sum, isFloat ? 1e-6 : 0, 'sum');
      if (typeof checks.min === 'number') assert.equal(min, checks.min);
      if (typeof checks.max === 'number') assert.equal(max, checks.max);
      let pixelChecks = 0;
      for (const [key, v] of Object.entries(checks)) {
        const m = /\[([\d,]+)\]$/.exec(key);
        if (!m || typeof v !== 'number') continue;
        const idx = m[1].split(',').map(Number);
        const [z, y, x] = idx.length === 3 ? idx : [0, ...idx];
        const actual = pages[z].data[y * im.width + x];
        if (isFloat) closeRel(actual, v, 1e-6, key);
        else assert.equal(actual, v, key);
        pixelChecks++;
      }
      assert.ok(pixelChecks >= 2);
    });
  }

  it('keeps the header facts worth keeping', () => {
    const haadf = readMrc(loadFormatFile('mrc/HAADFscan.mrc'));
    assert.deepEqual(haadf.metadata.extendedHeader, { type: 'FEI2', bytes: 909312 });
    assert.equal(haadf.metadata.byteOrderSource, 'stamp');
    const map = readMrc(loadFormatFile('mrc/EMD-3197.map'));
    assert.deepEqual(map.metadata.labels, ['::::EMDATABANK.org::::EMD-3197::::']);
    assert.equal(map.metadata.spaceGroup, 1);
    // relion31.mrcs: machine stamp 0, no "MAP " id: byte order sniffed, little-endian.
    const stack = readMrc(loadFormatFile('mrc/relion31.mrcs'));
    assert.equal(stack.metadata.byteOrderSource, 'sniffed');
    assert.equal(stack.metadata.littleEndian, true);
  });

  it('reads a big-endian copy identically', () => {
    const le = loadFormatFile('mrc/EMD-3197.map');
    const be = le.slice();
    const swap = (at: number) => be.set([le[at + 3], le[at + 2], le[at + 1], le[at]], at);
    for (let at = 0; at < 224; at += 4) if (at !== 104 && at !== 208) swap(at);
    be.set([0x11, 0x11, 0, 0], 212);
    for (let at = 1024; at < le.length; at += 4) swap(at);
    for (const page of [0, 9, 19]) {
      const a = readMrc(le, { page });
      const b = readMrc(be, { page });
      assert.equal(b.metadata.littleEndian, false);
      assert.deepEqual(b.data, a.data);
      assert.deepEqual(b.metadata.calibration, a.metadata.calibration);
    }
    // And with the stamp cleared, the byte order is sniffed from MODE and the sizes.
    const unstamped = be.slice();
    unstamped.set([0, 0, 0, 0], 212);
    assert.deepEqual(readMrc(unstamped, { page: 9 }).data, readMrc(le, { page: 9 }).data);
  });

  it('reads float16 (mode 12) as float32, and IMOD unsigned bytes', () => {
    const halves = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000];
    const px = new Uint8Array(12);
    halves.forEach((h, i) => new DataView(px.buffer).setUint16(2 * i, h, true));
    const im = readMrc(mrcFile(3, 2, 1, 12, px), { name: 'half.mrc' });
    assert.equal(im.dtype, 'float32');
    assert.ok(im.data instanceof Float32Array);
    assert.deepEqual([...im.data], [1, -2, 0.5, 65504, 2 ** -24, -0]);
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.equal(im.metadata.storedDtype, 'float16');
    assert.deepEqual(im.pixelSize, { x: 0.2, y: 0.2 });

    const bytes = new Uint8Array([0, 1, 200, 255]);
    const signed = readMrc(mrcFile(2, 2, 1, 0, bytes));
    assert.equal(signed.dtype, 'int8');
    assert.deepEqual([...signed.data], [0, 1, -56, -1]);
    const imod = readMrc(mrcFile(2, 2, 1, 0, bytes, { 152: 1146047817, 156: 0 }));
    assert.equal(imod.dtype, 'uint8');
    assert.deepEqual([...imod.data], [0, 1, 200, 255]);
    assert.equal(readMrc(mrcFile(2, 2, 1, 0, bytes, { 152: 1146047817, 156: 1 })).dtype, 'int8');
  });

  it('reports a zero cell as uncalibrated', () => {
    const im = readMrc(mrcFile(2, 1, 1, 1, new Uint8Array(4), { 40: 0, 44: 0 }));
    assert.equal(im.pixelSize, null);
    assert.deepEqual(im.metadata.calibration, { x: 1, y: 1, z: 2, unit: null });
  });

  it('isMrc rejects other formats', () => {
    assert.equal(isMrc(loadFormatFile('dm3/test-1.dm3')), false);
    assert.equal(isMrc(loadFormatFile('ser/64x64_TEM_images_acquire_1.ser')), false);
    assert.equal(isMrc(new Uint8Array(2048)), false);
    assert.equal(isMrc(new Uint8Array(100)), false);
  });
});

describe('MRC reader: bad input', () => {
  for (const file of ['mrc/HAADFscan.mrc', 'mrc/EMD-3197.map', 'mrc/relion31.mrcs']) {
    const entry = entries.find((e) => e.file === file)!;
    it(`${file}: truncated, bad header fields, huge sizes, page out of range`, () => {
      const bytes = loadFormatFile(file);
      const name = `/data/${file}`;
      expectEmsegError(() => readMrc(bytes.subarray(0, Math.floor(bytes.length * 0.6)), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readMrc(bytes.subarray(0, 1024), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readMrc(bytes.subarray(0, 100), { name }), 'EMSEG_FORMAT_TRUNCATED', name, /1024-byte/);
      expectEmsegError(() => readMrc(bytes.subarray(0, bytes.length - 1), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readMrc(editBytes(bytes, (v) => v.setInt32(12, 99, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /MODE is 99/);
      expectEmsegError(() => readMrc(editBytes(bytes, (v) => v.setInt32(12, 4, true)), { name }), 'EMSEG_FORMAT_UNSUPPORTED', name, /complex/);
      expectEmsegError(() => readMrc(editBytes(bytes, (v) => v.setInt32(0, -5, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /NX = -5/);
      expectEmsegError(() => readMrc(editBytes(bytes, (v) => v.setInt32(92, -1, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /NSYMBT/);

      const huge = editBytes(bytes, (v) => { v.setInt32(0, 100000, true); v.setInt32(4, 100000, true); });
      expectEmsegError(() => readMrc(huge, { name }), 'EMSEG_IMAGE_TOO_LARGE', name);
      // Within the pixel limit, but not in the file: refused before allocating.
      const big = editBytes(bytes, (v) => { v.setInt32(0, 20000, true); v.setInt32(4, 20000, true); });
      expectEmsegError(() => readMrc(big, { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      const deep = editBytes(bytes, (v) => v.setInt32(8, 2 ** 30, true));
      expectEmsegError(() => readMrc(deep, { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      for (const input of [huge, big, deep]) assert.ok(arrayBufferGrowth(() => readMrc(input, { name })) < 64 * 2 ** 20, 'refused before allocating');

      const pages = entry.depth ?? 1;
      expectEmsegError(() => readMrc(bytes, { name, page: pages }), 'EMSEG_INVALID_ARGUMENT', name, new RegExp(`${pages} image`));
      expectEmsegError(() => readMrc(bytes, { name, page: -1 }), 'EMSEG_INVALID_ARGUMENT', name);
    });
  }

  it('never throws anything but an EmsegError on corrupted bytes', () => {
    fuzzFormatFiles(['mrc/EMD-3197.map', 'mrc/relion31.mrcs'], {
      seed: 11,
      rounds: 150,
      edits: 3,
      offset: (r) => Math.floor(r * 1024),
      name: 'fuzz.x',
      read: (copy, k) => readMrc(copy, { name: 'fuzz.x', page: k % 3 }),
    });
  });
});
