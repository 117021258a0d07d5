import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDm, readDm } from '../../../core/formats/dm.ts';
import { toNanometres } from '../../../core/formats/limits.ts';
import type { EmImage } from '../../../core/formats/types.ts';
import { closeRel, editBytes, expectEmsegError, fuzzFormatFiles, loadFormatFile, manifestEntries, pixelStats } from '../../helpers/em-formats.ts';
import { arrayBufferGrowth } from '../../helpers/tools.ts';

const entries = manifestEntries((f) => f.format === 'DM3' || f.format === 'DM4');

function pixel(im: EmImage, row: number, col: number): number {
  return im.data[row * im.width + col];
}

/**
 * Offsets of the values of the simple data tags named `tagName` (DM3 or DM4 layout), found from the tag
 * name: kind 21, u16 name length, name, [DM4 size], "%%%%", info length 1, type, value.
 */
function simpleTagValues(bytes: Uint8Array, tagName: string): { offset: number; type: number; value: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v4 = view.getUint32(0, false) === 4;
  const le = view.getUint32(v4 ? 12 : 8, false) === 1;
  const w = v4 ? 8 : 4;
  const word = (at: number) => (v4 ? Number(view.getBigUint64(at, false)) : view.getUint32(at, false));
  const name = new TextEncoder().encode(tagName);
  const out: { offset: number; type: number; value: number }[] = [];
  for (let i = 3; i + name.length < bytes.length; i++) {
    if (bytes[i - 3] !== 21 || view.getUint16(i - 2, false) !== name.length) continue;
    if (!name.every((c, k) => bytes[i + k] === c)) continue;
    let p = i + name.length + (v4 ? 8 : 0);
    if (String.fromCharCode(...bytes.subarray(p, p + 4)) !== '%%%%') continue;
    p += 4;
    if (word(p) !== 1) continue;
    const type = word(p + w);
    p += 2 * w;
    const value = type === 3 ? view.getInt32(p, le) : type === 5 ? view.getUint32(p, le) : NaN;
    out.push({ offset: p, type, value });
  }
  return out;
}

/** Offsets of the Dimensions [x, y] values (4-byte integers) of the image sized width x height. */
function dimensionOffsets(bytes: Uint8Array, width: number, height: number): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v4 = view.getUint32(0, false) === 4;
  const le = view.getUint32(v4 ? 12 : 8, false) === 1;
  const w = v4 ? 8 : 4;
  const name = new TextEncoder().encode('Dimensions');
  let found: [number, number] | null = null;
  for (let i = 3; i + name.length < bytes.length; i++) {
    if (bytes[i - 3] !== 20 || view.getUint16(i - 2, false) !== name.length || !name.every((c, k) => bytes[i + k] === c)) continue;
    // [DM4 tag size], sorted, open, tag count; then per entry: kind, name length 0, [DM4 size], %%%%, 1, type, value.
    let p = i + name.length + (v4 ? 8 : 0) + 2 + w;
    const offsets: number[] = [];
    for (let k = 0; k < 2; k++) {
      p += 3 + (v4 ? 8 : 0) + 4 + 2 * w;
      offsets.push(p);
      p += 4;
    }
    if (view.getUint32(offsets[0], le) === width && view.getUint32(offsets[1], le) === height) found = [offsets[0], offsets[1]];
  }
  // The last match: the thumbnail (ImageList[0]) can have the same size as the image.
  if (!found) throw new Error(`no Dimensions group [${width}, ${height}] found`);
  return found;
}

function setU32(bytes: Uint8Array, at: number, value: number, littleEndian = true): Uint8Array {
  return editBytes(bytes, (v) => v.setUint32(at, value, littleEndian));
}

// ---- a tiny DM3/DM4 writer for synthetic cases (byte order, stacks, nesting, unsupported types) ----

type DmNode = { group: [string, DmNode][] } | { type: number; value: number } | { arrayOf: number; values: number[] };

const SIZE: Record<number, number> = { 2: 2, 3: 4, 4: 2, 5: 4, 6: 4, 7: 8, 8: 1, 9: 1, 10: 1 };

function encodeDm(root: [string, DmNode][], version: 3 | 4, littleEndian: boolean): Uint8Array {
  const out: number[] = [];
  const u8 = (v: number) => out.push(v & 0xff);
  const u16 = (v: number) => { u8(v >> 8); u8(v); };
  const u32 = (v: number) => { u16(v >>> 16); u16(v & 0xffff); };
  const word = (v: number) => { if (version === 4) u32(0); u32(v); };
  const value = (type: number, v: number) => {
    const b = new DataView(new ArrayBuffer(8));
    if (type === 2) b.setInt16(0, v, littleEndian);
    else if (type === 3) b.setInt32(0, v, littleEndian);
    else if (type === 4) b.setUint16(0, v, littleEndian);
    else if (type === 5) b.setUint32(0, v, littleEndian);
    else if (type === 6) b.setFloat32(0, v, littleEndian);
    else if (type === 7) b.setFloat64(0, v, littleEndian);
    else b.setUint8(0, v);
    for (let i = 0; i < SIZE[type]; i++) u8(b.getUint8(i));
  };
  const group = (tags: [string, DmNode][]) => {
    u8(0); u8(1); word(tags.length);
    for (const [name, node] of tags) {
      u8('group' in node ? 20 : 21);
      u16(name.length);
      for (const c of name) u8(c.charCodeAt(0));
      if (version === 4) word(0);
      if ('group' in node) group(node.group);
      else if ('arrayOf' in node) {
        for (const c of '%%%%') u8(c.charCodeAt(0));
        word(3); word(20); word(node.arrayOf); word(node.values.length);
        for (const v of node.values) value(node.arrayOf, v);
      } else {
        for (const c of '%%%%') u8(c.charCodeAt(0));
        word(1); word(node.type); value(node.type, node.value);
      }
    }
  };
  u32(version);
  word(0);
  u32(littleEndian ? 1 : 0);
  group(root);
  return new Uint8Array(out);
}

const text = (s: string): DmNode => ({ arrayOf: 4, values: [...s].map((c) => c.charCodeAt(0)) });

function dmImage(dataType: number, elemType: number, dims: number[], values: number[], units = 'nm', scale = 0.5): DmNode {
  return {
    group: [
      ['ImageData', {
        group: [
          ['Calibrations', { group: [['Dimension', { group: dims.map((): [string, DmNode] => ['', { group: [['Origin', { type: 6, value: 2 }], ['Scale', { type: 6, value: scale }], ['Units', text(units)]] }]) }]] }],
          ['Data', { arrayOf: elemType, values }],
          ['DataType', { type: 5, value: dataType }],
          ['Dimensions', { group: dims.map((d): [string, DmNode] => ['', { type: 5, value: d }]) }],
        ],
      }],
      ['Name', text('synthetic')],
    ],
  };
}

function thumbnail(): DmNode {
  return dmImage(23, 5, [2, 2], [0, 0, 0, 0], '');
}

function dmFile(images: DmNode[], version: 3 | 4 = 3, littleEndian = true, thumbnails = [0]): Uint8Array {
  return encodeDm(
    [
      ['ImageList', { group: images.map((im): [string, DmNode] => ['', im]) }],
      ['Thumbnails', { group: thumbnails.map((i): [string, DmNode] => ['', { group: [['ImageIndex', { type: 5, value: i }]] }]) }],
    ],
    version,
    littleEndian,
  );
}

describe('DM3/DM4 reader: every DM file of the em-formats manifest', () => {
  assert.ok(entries.length >= 12, `expected the 12 DM entries, found ${entries.length}`);
  for (const entry of entries) {
    it(`reads ${entry.file}`, () => {
      const bytes = loadFormatFile(entry.file);
      assert.equal(isDm(bytes), true);
      const im = readDm(bytes, { name: entry.file });
      assert.equal(im.format, entry.format);
      assert.equal(im.width, entry.width);
      assert.equal(im.height, entry.height);
      assert.equal(im.dtype, entry.dtype);
      assert.equal(im.data.length, entry.width * entry.height);
      assert.equal(im.data.byteOffset, 0);

      const cal = entry.calibration;
      const meta = im.metadata.calibration as { x: number; y: number; unit: string | null; xUnit: string | null; yUnit: string | null };
      closeRel(meta.x, cal.x_scale!, 1e-6, 'calibration x');
      closeRel(meta.y, cal.y_scale!, 1e-6, 'calibration y');
      assert.equal(meta.unit, cal.unit);
      assert.equal(meta.xUnit, cal.x_unit ?? cal.unit);
      assert.equal(meta.yUnit, cal.y_unit ?? cal.unit);
      const nmX = toNanometres(cal.x_scale!, cal.x_unit ?? cal.unit);
      const nmY = toNanometres(cal.y_scale!, cal.y_unit ?? cal.unit);
      if (nmX === null || nmY === null) assert.equal(im.pixelSize, null);
      else {
        closeRel(im.pixelSize!.x, nmX, 1e-6, 'pixelSize x');
        closeRel(im.pixelSize!.y, nmY, 1e-6, 'pixelSize y');
      }
      if (cal.origin_px) assert.deepEqual(im.metadata.origin, { x: cal.origin_px[0], y: cal.origin_px[1] });
      assert.equal(im.metadata.pages, 1);
      assert.equal(im.metadata.page, 0);

      const checks = entry.pixel_checks ?? {};
      const s = pixelStats(im.data);
      if (typeof checks.sum === 'number') closeRel(s.sum, checks.sum, 1e-9, 'sum');
      if (typeof checks.min === 'number') assert.equal(s.min, checks.min);
      if (typeof checks.max === 'number') assert.equal(s.max, checks.max);
      if (Array.isArray(checks.data_row_major)) {
        const rows = checks.data_row_major as number[][];
        rows.forEach((row, r) => row.forEach((v, c) => assert.equal(pixel(im, r, c), v, `[${r},${c}]`)));
      }
      if (checks.rule === 'data[row][col] == col') {
        for (let r = 0; r < im.height; r++) for (let c = 0; c < im.width; c++) assert.equal(pixel(im, r, c), c);
      }
      for (const [key, v] of Object.entries(checks)) {
        const m = /^\[(\d+),(\d+)\]$/.exec(key);
        if (m) assert.equal(pixel(im, Number(m[1]), Number(m[2])), v, key);
      }
    });
  }

  it('skips the RGBA thumbnail and the 1-D plot of multi_signal.dm3 and keeps its tags', () => {
    const im = readDm(loadFormatFile('dm3/multi_signal.dm3'), { name: 'multi_signal.dm3' });
    assert.equal(im.metadata.imageListIndex, 1);
    assert.equal(im.metadata.title, 'HAADF');
    assert.equal(im.metadata.pages, 1);
    // rosettasciio test_multi_signal: microscope "Example Microscope", 300 kV.
    assert.equal(im.metadata.microscope, 'Example Microscope');
    assert.equal(im.metadata.voltage, 300000);
    assert.equal(readDm(loadFormatFile('dm3/test_STEM_image.dm3')).metadata.microscope, 'FEI Titan');
    assert.equal(readDm(loadFormatFile('dm3/test_dm_image_um_unit.dm3')).metadata.microscope, 'FEI Tecnai');
  });

  it('reads the same ramp from the DM3 and DM4 containers', () => {
    const a = readDm(loadFormatFile('dm3/dmTest_float32_nonSquare_diffPixelSize.dm3'));
    const b = readDm(loadFormatFile('dm4/dmTest_float32_nonSquare_diffPixelSize.dm4'));
    assert.deepEqual(a.data, b.data);
    assert.deepEqual(a.pixelSize, { x: 1, y: 0.2 });
    assert.deepEqual(b.pixelSize, a.pixelSize);
  });

  it('isDm rejects other formats', () => {
    assert.equal(isDm(loadFormatFile('mrc/EMD-3197.map')), false);
    assert.equal(isDm(loadFormatFile('ser/64x64_TEM_images_acquire_1.ser')), false);
    assert.equal(isDm(new Uint8Array(10)), false);
    assert.equal(isDm(new Uint8Array(100)), false);
  });
});

describe('DM3/DM4 reader: synthetic files', () => {
  for (const version of [3, 4] as const) {
    for (const littleEndian of [true, false]) {
      it(`DM${version} ${littleEndian ? 'little' : 'big'}-endian data, pages over a stack, 1-D entries skipped`, () => {
        const plot = dmImage(2, 6, [4], [1, 2, 3, 4]);
        const image = dmImage(1, 2, [3, 2], [1, -2, 3, -4, 5, -6], 'µm', 0.25);
        const stack = dmImage(2, 6, [2, 2, 3], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
        const bytes = dmFile([thumbnail(), plot, image, stack], version, littleEndian);
        assert.equal(isDm(bytes), true);
        const im = readDm(bytes, { name: 'syn.dm' });
        assert.equal(im.format, `DM${version}`);
        assert.equal(im.dtype, 'int16');
        assert.deepEqual([...im.data], [1, -2, 3, -4, 5, -6]);
        assert.deepEqual(im.pixelSize, { x: 250, y: 250 });
        assert.deepEqual(im.metadata.calibration, { x: 0.25, y: 0.25, unit: 'µm', xUnit: 'µm', yUnit: 'µm' });
        assert.deepEqual(im.metadata.origin, { x: 2, y: 2 });
        assert.equal(im.metadata.pages, 4);
        const p2 = readDm(bytes, { page: 2 });
        assert.equal(p2.dtype, 'float32');
        assert.deepEqual([...p2.data], [10, 11, 12, 13]);
        assert.equal(p2.metadata.plane, 1);
        assert.equal(p2.metadata.imageListIndex, 3);
        expectEmsegError(() => readDm(bytes, { name: 'syn.dm', page: 4 }), 'EMSEG_INVALID_ARGUMENT', 'syn.dm', /4 images/);
      });
    }
  }

  it('reports reciprocal-space calibration without a pixel size', () => {
    const im = readDm(dmFile([thumbnail(), dmImage(6, 10, [2, 1], [7, 8], '1/nm', 0.125)]), { name: 'fft.dm3' });
    assert.equal(im.pixelSize, null);
    assert.deepEqual(im.metadata.calibration, { x: 0.125, y: 0.125, unit: '1/nm', xUnit: '1/nm', yUnit: '1/nm' });
    assert.equal(im.dtype, 'uint8');
  });

  it('refuses complex and RGB images as unsupported', () => {
    expectEmsegError(() => readDm(dmFile([thumbnail(), dmImage(3, 6, [2, 1], [1, 0, 2, 0])]), { name: 'cplx.dm3' }), 'EMSEG_FORMAT_UNSUPPORTED', 'cplx.dm3', /DataType is 3/);
    expectEmsegError(() => readDm(dmFile([dmImage(23, 5, [2, 1], [1, 2])], 3, true, []), { name: 'rgb.dm3' }), 'EMSEG_FORMAT_UNSUPPORTED', 'rgb.dm3', /RGBA/);
    expectEmsegError(() => readDm(dmFile([thumbnail(), dmImage(99, 6, [2, 1], [1, 2])]), { name: 'odd.dm3' }), 'EMSEG_FORMAT_BAD_HEADER', 'odd.dm3', /DataType is 99/);
  });

  it('refuses Data shorter than the Dimensions declare', () => {
    expectEmsegError(() => readDm(dmFile([thumbnail(), dmImage(2, 6, [4, 4], [1, 2, 3])]), { name: 'short.dm3' }), 'EMSEG_FORMAT_BAD_HEADER', 'short.dm3', /Data holds 12 bytes/);
  });

  it('stops at a bounded nesting depth', () => {
    let node: DmNode = { type: 3, value: 1 };
    for (let i = 0; i < 200; i++) node = { group: [['g', node]] };
    expectEmsegError(() => readDm(encodeDm([['deep', node]], 3, true), { name: 'deep.dm3' }), 'EMSEG_FORMAT_BAD_HEADER', 'deep.dm3', /nested deeper/);
  });

  it('a file with no image says so', () => {
    expectEmsegError(() => readDm(encodeDm([['Other', { type: 3, value: 1 }]], 4, true), { name: 'empty.dm4' }), 'EMSEG_FORMAT_BAD_HEADER', 'empty.dm4', /ImageList/);
    expectEmsegError(() => readDm(dmFile([thumbnail()]), { name: 'thumb.dm3' }), 'EMSEG_INVALID_ARGUMENT', 'thumb.dm3', /0 images/);
  });
});

describe('DM3/DM4 reader: bad input', () => {
  for (const file of ['dm3/test-1.dm3', 'dm3/multi_signal.dm3', 'dm4/test-10.dm4', 'dm4/dmTest_float32_nonSquare_diffPixelSize.dm4']) {
    const entry = entries.find((e) => e.file === file)!;
    it(`${file}: truncated, wrong magic, huge dimensions, page out of range`, () => {
      const bytes = loadFormatFile(file);
      const name = `/data/${file}`;
      expectEmsegError(() => readDm(bytes.subarray(0, Math.floor(bytes.length * 0.6)), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readDm(bytes.subarray(0, 16), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readDm(bytes.subarray(0, 6), { name }), 'EMSEG_FORMAT_TRUNCATED', name);
      expectEmsegError(() => readDm(setU32(bytes, 0, 5, false), { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /version/);
      const badOrder = setU32(bytes, file.endsWith('.dm4') ? 12 : 8, 7, false);
      expectEmsegError(() => readDm(badOrder, { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /byte-order/);

      const [ox, oy] = dimensionOffsets(bytes, entry.width, entry.height);
      let huge = setU32(bytes, ox, 100000);
      huge = setU32(huge, oy, 100000);
      expectEmsegError(() => readDm(huge, { name }), 'EMSEG_IMAGE_TOO_LARGE', name);
      assert.ok(arrayBufferGrowth(() => readDm(huge, { name })) < 64 * 2 ** 20, 'refused before allocating');
      // Within the pixel limit but far beyond the stored Data: refused before any allocation.
      let big = setU32(bytes, ox, 20000);
      big = setU32(big, oy, 20000);
      expectEmsegError(() => readDm(big, { name }), 'EMSEG_FORMAT_BAD_HEADER', name, /Data holds/);

      expectEmsegError(() => readDm(bytes, { name, page: 1 }), 'EMSEG_INVALID_ARGUMENT', name, /1 image/);
      expectEmsegError(() => readDm(bytes, { name, page: -1 }), 'EMSEG_INVALID_ARGUMENT', name);
      expectEmsegError(() => readDm(bytes, { name, page: 0.5 }), 'EMSEG_INVALID_ARGUMENT', name);
    });
  }

  it('edited DataType: complex is unsupported, unknown is a bad header', () => {
    const bytes = loadFormatFile('dm3/test-1.dm3');
    const tag = simpleTagValues(bytes, 'DataType').find((t) => t.value === 1)!;
    const le = true;
    expectEmsegError(() => readDm(setU32(bytes, tag.offset, 13, le), { name: 'test-1.dm3' }), 'EMSEG_FORMAT_UNSUPPORTED', 'test-1.dm3', /complex128/);
    expectEmsegError(() => readDm(setU32(bytes, tag.offset, 77, le), { name: 'test-1.dm3' }), 'EMSEG_FORMAT_BAD_HEADER', 'test-1.dm3', /DataType is 77/);
  });

  it('a corrupt tag delimiter or tag kind is a bad header, not a crash', () => {
    const bytes = loadFormatFile('dm4/test-7.dm4');
    const tag = simpleTagValues(bytes, 'DataType')[0];
    // DM4: ... kind, name length, name, size (8), "%%%%", info length (8), type (8), value.
    const delimiterAt = tag.offset - 8 - 8 - 4;
    const copy = bytes.slice();
    copy[delimiterAt] = 0x41;
    expectEmsegError(() => readDm(copy, { name: 'test-7.dm4' }), 'EMSEG_FORMAT_BAD_HEADER', 'test-7.dm4', /delimiter/);
    const kind = bytes.slice();
    kind[delimiterAt - 8 - 'DataType'.length - 2 - 1] = 99;
    expectEmsegError(() => readDm(kind, { name: 'test-7.dm4' }), 'EMSEG_FORMAT_BAD_HEADER', 'test-7.dm4', /kind 99/);
  });

  it('never throws anything but an EmsegError on corrupted bytes', () => {
    fuzzFormatFiles(['dm3/test-2.dm3'], {
      seed: 7,
      rounds: 200,
      edits: 4,
      offset: (r, copy) => 16 + Math.floor(r * (copy.length - 16)),
      name: 'fuzz.dm3',
      read: (copy) => readDm(copy, { name: 'fuzz.dm3' }),
    });
  });
});
