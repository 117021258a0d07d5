import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSer, readSer, serCompanionEmiPath } from '../../../core/formats/ser.ts';
import { closeRel, editBytes, emFormatsDir, expectEmsegError, fuzzFormatFiles, loadFormatFile, manifestEntries, pixelStats } from '../../helpers/em-formats.ts';
import { arrayBufferGrowth } from '../../helpers/tools.ts';

const entries = manifestEntries((f) => f.format === 'SER');

function loadEmi(serFile: string): Uint8Array {
  return loadFormatFile(serCompanionEmiPath(serFile)!);
}

/** Data offset of element `i`, from the header's offset array (old: u32, new: u64). */
function dataOffset(bytes: Uint8Array, i = 0): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = v.getUint16(4, true) > 0x210;
  const arrayAt = wide ? Number(v.getBigUint64(22, true)) : v.getUint32(22, true);
  return wide ? Number(v.getBigUint64(arrayAt + 8 * i, true)) : v.getUint32(arrayAt + 4 * i, true);
}

/** A NumPy .npy file: magic, version, header dict, raw little-endian data. */
function readNpy(bytes: Uint8Array): { shape: number[]; descr: string; data: Float32Array } {
  assert.equal(String.fromCharCode(...bytes.subarray(0, 6)), '\x93NUMPY');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? v.getUint16(8, true) : v.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1];
  assert.match(header, /'fortran_order':\s*False/);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  assert.equal(descr, '<f4');
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = v.getFloat32(start + headerLength + 4 * i, true);
  return { shape, descr, data };
}

const SER_SIZES: Record<number, number> = { 1: 1, 2: 2, 5: 2, 6: 4, 7: 4, 9: 8 };

/** A synthetic TIA series of 2-D elements (rows given top-down, as displayed; stored bottom-up). */
function serFile(images: { w: number; h: number; type: number; rows: number[][] }[], version = 0x210, extra: { dataTypeId?: number; deltaX?: number } = {}): Uint8Array {
  const wide = version > 0x210;
  const word = wide ? 8 : 4;
  const headerBytes = wide ? 34 : 30;
  const dimBytes = 4 + 8 + 8 + 4 + 4 + 6 + 4;
  const arrayAt = headerBytes + dimBytes;
  const n = images.length;
  let at = arrayAt + 2 * n * word;
  const dataAt: number[] = [];
  for (const im of images) {
    dataAt.push(at);
    at += 50 + im.w * im.h * SER_SIZES[im.type];
  }
  const tagAt = images.map((_, i) => at + 8 * i);
  const out = new Uint8Array(at + 8 * n);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0x4949, true);
  v.setUint16(2, 0x0197, true);
  v.setUint16(4, version, true);
  v.setUint32(6, extra.dataTypeId ?? 0x4122, true);
  v.setUint32(10, 0x4152, true);
  v.setUint32(14, n, true);
  v.setUint32(18, n, true);
  if (wide) v.setBigUint64(22, BigInt(arrayAt), true);
  else v.setUint32(22, arrayAt, true);
  v.setUint32(headerBytes - 4, 1, true);
  let p = headerBytes;
  v.setUint32(p, n, true);
  v.setFloat64(p + 4, 0, true);
  v.setFloat64(p + 12, 1, true);
  v.setUint32(p + 24, 6, true);
  out.set(new TextEncoder().encode('Number'), p + 28);
  p = arrayAt;
  const setWord = (x: number) => {
    if (wide) v.setBigUint64(p, BigInt(x), true);
    else v.setUint32(p, x, true);
    p += word;
  };
  dataAt.forEach(setWord);
  tagAt.forEach(setWord);
  images.forEach((im, i) => {
    let q = dataAt[i];
    v.setFloat64(q, -1e-9, true);
    v.setFloat64(q + 8, extra.deltaX ?? 2e-10, true);
    v.setFloat64(q + 20, 0, true);
    v.setFloat64(q + 28, 5e-10, true);
    v.setUint16(q + 40, im.type, true);
    v.setUint32(q + 42, im.w, true);
    v.setUint32(q + 46, im.h, true);
    q += 50;
    for (const row of [...im.rows].reverse()) {
      for (const x of row) {
        if (im.type === 1) v.setUint8(q, x);
        else if (im.type === 2) v.setUint16(q, x, true);
        else if (im.type === 5) v.setInt16(q, x, true);
        else if (im.type === 6) v.setInt32(q, x, true);
        else v.setFloat32(q, x, true);
        q += SER_SIZES[im.type];
      }
    }
    v.setUint16(tagAt[i], 0x4152, true);
    v.setUint32(tagAt[i] + 4, 1700000000 + i, true);
  });
  return out;
}

describe('SER reader: every SER file of the em-formats manifest', () => {
  assert.equal(entries.length, 4);
  for (const entry of entries) {
    it(`reads ${entry.file} (with its .emi)`, () => {
      const bytes = loadFormatFile(entry.file);
      assert.equal(isSer(bytes), true);
      const im = readSer(bytes, { name: join(emFormatsDir, entry.file), emi: loadEmi(entry.file) });
      assert.equal(im.format, 'SER');
      assert.equal(im.width, entry.width);
      assert.equal(im.height, entry.height);
      assert.equal(im.dtype, entry.dtype);
      assert.equal(im.metadata.pages, 1);
      assert.equal(im.metadata.calibrationSpaceSource, 'emi-label');

      const cal = im.metadata.calibration as { x: number; y: number; unit: string };
      assert.equal(cal.unit, entry.calibration.unit);
      closeRel(cal.x, entry.calibration.x_scale!, 1e-9, 'calibration x');
      closeRel(cal.y, entry.calibration.y_scale!, 1e-9, 'calibration y');
      if (entry.calibration.unit === 'nm') {
        assert.equal(im.metadata.calibrationSpace, 'real');
        closeRel(im.pixelSize!.x, entry.calibration.x_scale!, 1e-9, 'pixelSize x');
        closeRel(im.pixelSize!.y, entry.calibration.y_scale!, 1e-9, 'pixelSize y');
      } else {
        assert.equal(entry.calibration.unit, '1/nm');
        assert.equal(im.metadata.calibrationSpace, 'reciprocal');
        assert.equal(im.pixelSize, null);
      }
      const factor = entry.calibration.unit === 'nm' ? 1e9 : 1e-9;
      const offset = im.metadata.calibrationOffset as { x: number; y: number };
      closeRel(offset.x, entry.calibration.raw_calibration_offset_si![0] * factor, 1e-9, 'offset x');
      closeRel(offset.y, entry.calibration.raw_calibration_offset_si![1] * factor, 1e-9, 'offset y');
      closeRel(cal.x, entry.calibration.raw_calibration_delta_si![0] * factor, 1e-9, 'raw delta x');

      const checks = entry.pixel_checks!;
      const s = pixelStats(im.data);
      closeRel(s.sum, checks.sum as number, 1e-9, 'sum');
      assert.equal(s.min, checks.min);
      assert.equal(s.max, checks.max);
      // Display order = stored rows flipped: stored [0,0] is the first pixel of the LAST displayed row.
      assert.equal(im.data[0], checks['display_order_[0,0] (rows flipped)']);
      assert.equal(im.data[(im.height - 1) * im.width], checks['file_order_[0,0]']);
      const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(dataOffset(bytes) + 50, true);
      const first = new DataView(im.data.buffer).getUint32((im.height - 1) * im.width * im.data.BYTES_PER_ELEMENT, true);
      assert.equal(first, stored);
    });
  }

  it('matches the .npy reference of 64x64_TEM_images_acquire_1.ser pixel for pixel', () => {
    const npy = readNpy(loadFormatFile('ser/64x64_TEM_images_acquire.npy'));
    assert.deepEqual(npy.shape, [64, 64]);
    const im = readSer(loadFormatFile('ser/64x64_TEM_images_acquire_1.ser'));
    assert.ok(im.data instanceof Float32Array);
    assert.deepEqual(im.data, npy.data);
  });

  it('reads the new 0x220 format (64-bit offsets)', () => {
    const im = readSer(loadFormatFile('ser/128x128-TEM_search_1.ser'));
    assert.equal(im.metadata.seriesVersion, 0x220);
    assert.equal(readSer(loadFormatFile('ser/16_STOimage_1.ser')).metadata.seriesVersion, 0x210);
  });

  it('without the .emi, a step below 1 is taken as metres and a step of 1 or more as 1/metres (diffraction), saying which; the emi Mode is the fallback when labels are missing', () => {
    const tem = readSer(loadFormatFile('ser/64x64_TEM_images_acquire_1.ser'), { name: 'tem_1.ser' });
    assert.equal(tem.metadata.calibrationSpace, 'real');
    assert.equal(tem.metadata.calibrationSpaceSource, 'assumed');
    closeRel(tem.pixelSize!.x, 6.281833616298531, 1e-9, 'pixelSize');
    // Without its .emi this diffraction pattern's step, 1.0e8, would be a pixel of 1e17 nm as metres.
    const diff = readSer(loadFormatFile('ser/64x64_diffraction_acquire_1.ser'), { name: 'diff_1.ser' });
    assert.equal(diff.metadata.calibrationSpaceSource, 'magnitude');
    assert.equal(diff.metadata.calibrationSpace, 'reciprocal');
    assert.equal((diff.metadata.calibration as { unit: string }).unit, '1/nm');
    assert.equal(diff.pixelSize, null);

    // Blank the "... Space" labels: the ObjectInfo Mode decides ("TEM ... Diffraction" -> reciprocal).
    const unlabel = (emi: Uint8Array) => {
      const copy = emi.slice();
      const text = new TextDecoder('latin1').decode(copy);
      for (const m of text.matchAll(/Space/g)) copy[m.index] = 0x73;
      return copy;
    };
    const byMode = readSer(loadFormatFile('ser/64x64_diffraction_acquire_1.ser'), { emi: unlabel(loadEmi('ser/64x64_diffraction_acquire_1.ser')) });
    assert.equal(byMode.metadata.calibrationSpaceSource, 'emi-mode');
    assert.equal(byMode.metadata.calibrationSpace, 'reciprocal');
    assert.equal(byMode.pixelSize, null);
    // "STEM nP Mh Zoom Diffraction" without a camera is a scanned (real-space) image, as rosettasciio decides.
    const sto = readSer(loadFormatFile('ser/16_STOimage_1.ser'), { emi: unlabel(loadEmi('ser/16_STOimage_1.ser')) });
    assert.equal(sto.metadata.calibrationSpaceSource, 'emi-mode');
    assert.equal(sto.metadata.calibrationSpace, 'real');
    const temByMode = readSer(loadFormatFile('ser/128x128-TEM_search_1.ser'), { emi: unlabel(loadEmi('ser/128x128-TEM_search_1.ser')) });
    assert.equal(temByMode.metadata.calibrationSpace, 'real');
    // An .emi with neither: assumed.
    assert.equal(readSer(loadFormatFile('ser/16_STOimage_1.ser'), { emi: new Uint8Array(100) }).metadata.calibrationSpaceSource, 'assumed');
  });

  it('companion .emi path and magic check', () => {
    assert.equal(serCompanionEmiPath('/a/b/64x64_TEM_images_acquire_1.ser'), '/a/b/64x64_TEM_images_acquire.emi');
    assert.equal(serCompanionEmiPath('C:\\x\\scan_12.SER'), 'C:\\x\\scan.emi');
    assert.equal(serCompanionEmiPath('/a/b/image.ser'), null);
    assert.equal(isSer(loadFormatFile('dm3/test-1.dm3')), false);
    assert.equal(isSer(loadFormatFile('mrc/relion31.mrcs')), false);
    assert.equal(isSer(new Uint8Array(4)), false);
  });
});

describe('SER reader: synthetic series', () => {
  for (const version of [0x210, 0x220]) {
    it(`pages through a 3-element series (0x${version.toString(16)}), flipping rows`, () => {
      const bytes = serFile(
        [
          { w: 3, h: 2, type: 5, rows: [[1, 2, 3], [4, 5, -6]] },
          { w: 2, h: 3, type: 7, rows: [[0.5, 1.5], [2.5, 3.5], [4.5, 5.5]] },
          { w: 1, h: 1, type: 1, rows: [[255]] },
        ],
        version,
      );
      assert.equal(isSer(bytes), true);
      const a = readSer(bytes, { name: 'syn_1.ser' });
      assert.equal(a.dtype, 'int16');
      assert.deepEqual([...a.data], [1, 2, 3, 4, 5, -6]);
      assert.equal(a.metadata.pages, 3);
      assert.deepEqual(a.metadata.calibration, { x: 0.2, y: 0.5, unit: 'nm' });
      assert.deepEqual(a.pixelSize, { x: 0.2, y: 0.5 });
      assert.equal(a.metadata.acquisitionTime, new Date(1700000000 * 1000).toISOString());
      const b = readSer(bytes, { page: 1 });
      assert.equal(b.dtype, 'float32');
      assert.equal(b.width, 2);
      assert.equal(b.height, 3);
      assert.deepEqual([...b.data], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
      const c = readSer(bytes, { page: 2 });
      assert.deepEqual([...c.data], [255]);
      expectEmsegError(() => readSer(bytes, { name: 'syn_1.ser', page: 3 }), 'EMSEG_INVALID_ARGUMENT', 'syn_1.ser', /3 images/);
    });
  }

  it('refuses complex pixels and 1-D spectra as unsupported, and a zero delta is uncalibrated', () => {
    expectEmsegError(() => readSer(serFile([{ w: 1, h: 1, type: 9, rows: [[0]] }]), { name: 'c_1.ser' }), 'EMSEG_FORMAT_UNSUPPORTED', 'c_1.ser', /complex64/);
    expectEmsegError(() => readSer(serFile([{ w: 1, h: 1, type: 1, rows: [[0]] }], 0x210, { dataTypeId: 0x4120 }), { name: 's_1.ser' }), 'EMSEG_FORMAT_UNSUPPORTED', 's_1.ser', /1-D/);
    expectEmsegError(() => readSer(serFile([{ w: 1, h: 1, type: 1, rows: [[0]] }], 0x210, { dataTypeId: 0x1234 }), { name: 'x_1.ser' }), 'EMSEG_FORMAT_BAD_HEADER', 'x_1.ser', /DataTypeID/);
    const flat = readSer(serFile([{ w: 2, h: 1, type: 1, rows: [[1, 2]] }], 0x210, { deltaX: 0 }));
    assert.equal(flat.pixelSize, null);
    assert.deepEqual(flat.metadata.calibration, { x: 1, y: 1, unit: null });
  });
});

describe('SER reader: bad input', () => {
  for (const entry of entries) {
    it(`${entry.file}: truncated, wrong magic, huge sizes, page out of range`, () => {
      const bytes = loadFormatFile(entry.file);
      const name = `/data/${entry.file}`;
      const at = dataOffset(bytes);
      expectEmsegError(() => readSer(bytes.subarray(0, Math.floor(bytes.length * 0.6)), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readSer(bytes.subarray(0, at), { name }), 'EMSEG_FORMAT_TRUNCATED', name, /header of data element/);
      expectEmsegError(() => readSer(bytes.subarray(0, 0x30), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readSer(bytes.subarray(0, 10), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readSer(editBytes(bytes, (v) => v.setUint16(0, 0x4d4d, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /ByteOrder/);
      expectEmsegError(() => readSer(editBytes(bytes, (v) => v.setUint16(2, 0x0198, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /SeriesID/);
      expectEmsegError(() => readSer(editBytes(bytes, (v) => v.setUint16(at + 40, 42, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /DataType 42/);
      expectEmsegError(() => readSer(editBytes(bytes, (v) => v.setUint16(at + 40, 10, true)), { name }), 'EMSEG_FORMAT_UNSUPPORTED', name, /complex128/);
      expectEmsegError(() => readSer(editBytes(bytes, (v) => v.setUint32(18, 5, true)), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /ValidNumberElements/);

      const huge = editBytes(bytes, (v) => { v.setUint32(at + 42, 100000, true); v.setUint32(at + 46, 100000, true); });
      expectEmsegError(() => readSer(huge, { name }), 'EMSEG_IMAGE_TOO_LARGE', name);
      const big = editBytes(bytes, (v) => { v.setUint32(at + 42, 20000, true); v.setUint32(at + 46, 20000, true); });
      expectEmsegError(() => readSer(big, { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      const manyDims = editBytes(bytes, (v) => v.setUint32(v.getUint16(4, true) > 0x210 ? 30 : 26, 0xffffffff, true));
      expectEmsegError(() => readSer(manyDims, { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      const manyElements = editBytes(bytes, (v) => { v.setUint32(14, 0x7fffffff, true); v.setUint32(18, 0x7fffffff, true); });
      expectEmsegError(() => readSer(manyElements, { name }), 'EMSEG_FORMAT_TRUNCATED', name, /offset arrays/);
      for (const input of [huge, big, manyDims, manyElements]) assert.ok(arrayBufferGrowth(() => readSer(input, { name })) < 64 * 2 ** 20, 'refused before allocating');

      expectEmsegError(() => readSer(bytes, { name, page: 1 }), 'EMSEG_INVALID_ARGUMENT', name, /1 image/);
      expectEmsegError(() => readSer(bytes, { name, page: Number.NaN }), 'EMSEG_INVALID_ARGUMENT', name);
    });
  }

  it('never throws anything but an EmsegError on corrupted bytes', () => {
    fuzzFormatFiles(['ser/64x64_TEM_images_acquire_1.ser', 'ser/128x128-TEM_search_1.ser'], {
      seed: 11,
      rounds: 150,
      edits: 3,
      offset: (r, copy) => Math.floor(r * Math.min(copy.length, 256)),
      name: 'fuzz.x',
      read: (copy, k) => readSer(copy, { name: 'fuzz.x', page: k % 3 }),
    });
  });
});
