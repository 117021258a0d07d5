import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import sharp from 'sharp';
import { encodeTiff } from '../../core/formats/tiff-write.ts';
import { toCocoRle } from '../../core/mask/coco-segmentation.ts';
import { encodeMask } from '../../core/mask/rle.ts';
import { type TiffPage, type TiffTag, buildTiff } from '../helpers/tiff-builder.ts';

/**
 * Small, valid files of every format, generated, for the fuzz targets' seed corpora beside the real
 * files under ../shared/data: they keep inputs small (fast runs) and cover layouts the real files do
 * not (big-endian, BigTIFF, tiles, multi-page, float16 MRC, SER v0x220 with 64-bit offsets, EMD of
 * both flavours...). Everything is deterministic.
 */

/** Deterministic pixel values (a ramp with a little texture). */
function ramp(n: number, max: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 37) % 101) * (max / 100));
}

// ---------------------------------------------------------------------------------------------
// TIFF: emseg's writer, and a hand layout for what it does not write
// ---------------------------------------------------------------------------------------------

function greyPage(width: number, height: number, bits: 8 | 16, opts: { le?: boolean; rowsPerStrip?: number; tile?: number; description?: string } = {}): TiffPage {
  const bpp = bits / 8;
  const le = opts.le ?? true;
  const px = ramp(width * height, bits === 8 ? 255 : 65535);
  const tags: TiffTag[] = [
    { tag: 256, type: 3, values: [width] },
    { tag: 257, type: 3, values: [height] },
    { tag: 258, type: 3, values: [bits] },
    { tag: 259, type: 3, values: [1] },
    { tag: 262, type: 3, values: [1] },
    { tag: 277, type: 3, values: [1] },
    { tag: 282, type: 5, values: [300, 1] },
    { tag: 283, type: 5, values: [300, 1] },
    { tag: 296, type: 3, values: [3] },
  ];
  if (opts.description) tags.push({ tag: 270, type: 2, values: opts.description });
  if (opts.tile) {
    const t = opts.tile;
    const across = Math.ceil(width / t);
    const down = Math.ceil(height / t);
    const data = new Uint8Array(across * down * t * t * bpp);
    const dv = new DataView(data.buffer);
    for (let ty = 0; ty < down; ty++) for (let tx = 0; tx < across; tx++) for (let y = 0; y < t; y++) for (let x = 0; x < t; x++) {
      const gx = tx * t + x, gy = ty * t + y;
      const value = gx < width && gy < height ? Math.round(px[gy * width + gx]) : 0;
      const at = (((ty * across + tx) * t + y) * t + x) * bpp;
      if (bpp === 1) dv.setUint8(at, value);
      else dv.setUint16(at, value, le);
    }
    const tileBytes = t * t * bpp;
    tags.push(
      { tag: 322, type: 3, values: [t] },
      { tag: 323, type: 3, values: [t] },
      { tag: 324, type: 4, values: (at) => Array.from({ length: across * down }, (_, i) => at + i * tileBytes) },
      { tag: 325, type: 4, values: Array.from({ length: across * down }, () => tileBytes) },
    );
    return { tags, data };
  }
  const data = new Uint8Array(width * height * bpp);
  const dv = new DataView(data.buffer);
  px.forEach((p, i) => (bpp === 1 ? dv.setUint8(i, Math.round(p)) : dv.setUint16(2 * i, Math.round(p), le)));
  const rps = opts.rowsPerStrip ?? height;
  const strips = Math.ceil(height / rps);
  const stripBytes = (s: number) => Math.min(rps, height - s * rps) * width * bpp;
  tags.push(
    { tag: 273, type: 4, values: (at) => Array.from({ length: strips }, (_, s) => at + s * rps * width * bpp) },
    { tag: 278, type: 3, values: [rps] },
    { tag: 279, type: 4, values: Array.from({ length: strips }, (_, s) => stripBytes(s)) },
  );
  return { tags, data };
}

/** Crop of a real EM image (PNG, first file of `dir`), as raw grey pixels. */
async function realCrop(path: string, width: number, height: number): Promise<Buffer> {
  return sharp(path).extract({ left: 40, top: 40, width, height }).greyscale().raw().toBuffer();
}

export async function tiffSeeds(realImage: string): Promise<{ label: string; bytes: Uint8Array }[]> {
  const crop = await realCrop(realImage, 48, 40);
  const out: { label: string; bytes: Uint8Array }[] = [
    { label: 'gen/encodeTiff-uint8-calibrated', bytes: encodeTiff({ width: 48, height: 40, dtype: 'uint8', data: new Uint8Array(crop), pixelSize: { x: 2.5, y: 2.5 } }) },
    { label: 'gen/encodeTiff-uint16', bytes: encodeTiff({ width: 17, height: 9, dtype: 'uint16', data: Uint16Array.from(ramp(17 * 9, 65535), Math.round) }) },
    { label: 'gen/encodeTiff-float32', bytes: encodeTiff({ width: 12, height: 10, dtype: 'float32', data: Float32Array.from(ramp(120, 3.5)), pixelSize: { x: 0.12, y: 0.15 } }, { description: 'fuzz seed' }) },
    { label: 'gen/multi-page-strips', bytes: buildTiff([greyPage(16, 12, 8, { rowsPerStrip: 5 }), greyPage(9, 7, 16, { description: 'ImageJ=1.54f\nunit=nm\n' })]) },
    { label: 'gen/big-endian-16bit', bytes: buildTiff([greyPage(20, 6, 16, { le: false, rowsPerStrip: 4 })], { le: false }) },
    { label: 'gen/bigtiff-2-pages', bytes: buildTiff([greyPage(10, 10, 8), greyPage(10, 10, 16)], { big: true }) },
    { label: 'gen/tiled', bytes: buildTiff([greyPage(40, 24, 8, { tile: 16 })]) },
    { label: 'gen/bigtiff-be-tiled', bytes: buildTiff([greyPage(20, 18, 16, { tile: 16, le: false })], { le: false, big: true }) },
  ];
  // Compressed and multi-channel TIFFs: decoded by sharp (libvips/libtiff).
  const img = sharp(crop, { raw: { width: 48, height: 40, channels: 1 } });
  out.push(
    { label: 'gen/sharp-lzw', bytes: new Uint8Array(await img.clone().tiff({ compression: 'lzw' }).toBuffer()) },
    { label: 'gen/sharp-deflate-tiled', bytes: new Uint8Array(await img.clone().tiff({ compression: 'deflate', tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer()) },
    { label: 'gen/sharp-jpeg-rgb', bytes: new Uint8Array(await img.clone().toColourspace('srgb').tiff({ compression: 'jpeg' }).toBuffer()) },
    { label: 'gen/sharp-packbits', bytes: new Uint8Array(await img.clone().tiff({ compression: 'packbits' }).toBuffer()) },
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// PNG / JPEG from real images
// ---------------------------------------------------------------------------------------------

export async function rasterSeeds(realImages: string[]): Promise<{ label: string; bytes: Uint8Array }[]> {
  const out: { label: string; bytes: Uint8Array }[] = [];
  for (const [k, path] of realImages.entries()) {
    const base = sharp(path).extract({ left: 16 + 8 * k, top: 16, width: 64, height: 48 });
    const name = path.split('/').pop();
    out.push(
      { label: `${name}/png-grey`, bytes: new Uint8Array(await base.clone().greyscale().png().toBuffer()) },
      { label: `${name}/png-rgb`, bytes: new Uint8Array(await base.clone().png({ compressionLevel: 9 }).toBuffer()) },
      { label: `${name}/jpeg`, bytes: new Uint8Array(await base.clone().jpeg({ quality: 80 }).toBuffer()) },
    );
    if (k === 0) {
      out.push(
        { label: `${name}/png-16bit`, bytes: new Uint8Array(await base.clone().greyscale().toColourspace('grey16').png().toBuffer()) },
        { label: `${name}/png-palette-interlaced`, bytes: new Uint8Array(await base.clone().png({ palette: true, progressive: true }).toBuffer()) },
        { label: `${name}/jpeg-progressive-grey`, bytes: new Uint8Array(await base.clone().greyscale().jpeg({ progressive: true }).toBuffer()) },
        { label: `${name}/png-alpha`, bytes: new Uint8Array(await base.clone().ensureAlpha(0.5).png().toBuffer()) },
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// MRC
// ---------------------------------------------------------------------------------------------

interface MrcSpec {
  nx: number;
  ny: number;
  nz: number;
  mode: 0 | 1 | 2 | 6 | 12;
  le?: boolean;
  stamp?: boolean;
  nsymbt?: number;
  imod?: boolean;
  cell?: [number, number, number];
}

export function buildMrc(s: MrcSpec): Uint8Array {
  const le = s.le ?? true;
  const bytesPer = { 0: 1, 1: 2, 2: 4, 6: 2, 12: 2 }[s.mode];
  const nsymbt = s.nsymbt ?? 0;
  const n = s.nx * s.ny * s.nz;
  const buf = new Uint8Array(1024 + nsymbt + n * bytesPer);
  const v = new DataView(buf.buffer);
  [s.nx, s.ny, s.nz, s.mode, 0, 0, 0, s.nx, s.ny, s.nz].forEach((x, i) => v.setInt32(4 * i, x, le));
  const cell = s.cell ?? [s.nx * 1.5, s.ny * 1.5, s.nz * 1.5];
  cell.forEach((x, i) => v.setFloat32(40 + 4 * i, x, le));
  [90, 90, 90].forEach((x, i) => v.setFloat32(52 + 4 * i, x, le));
  [1, 2, 3].forEach((x, i) => v.setInt32(64 + 4 * i, x, le));
  v.setFloat32(76, 0, le);
  v.setFloat32(80, 100, le);
  v.setFloat32(84, 50, le);
  v.setInt32(88, s.nz > 1 ? 0 : 1, le);
  v.setInt32(92, nsymbt, le);
  if (nsymbt) buf.set([...'FEI1'].map((c) => c.charCodeAt(0)), 104);
  v.setInt32(108, 20140, le);
  if (s.imod) {
    v.setInt32(152, 1146047817, le);
    v.setInt32(156, 0, le);
  }
  buf.set([...'MAP '].map((c) => c.charCodeAt(0)), 208);
  if (s.stamp ?? true) buf.set(le ? [0x44, 0x44, 0, 0] : [0x11, 0x11, 0, 0], 212);
  v.setFloat32(216, 12.5, le);
  v.setInt32(220, 1, le);
  buf.set([...'emseg fuzz seed'].map((c) => c.charCodeAt(0)), 224);
  const px = ramp(n, 120);
  const at = 1024 + nsymbt;
  px.forEach((p, i) => {
    switch (s.mode) {
      case 0: v.setInt8(at + i, Math.round(p) - 60); break;
      case 1: v.setInt16(at + 2 * i, Math.round(p * 10) - 600, le); break;
      case 2: v.setFloat32(at + 4 * i, p / 7, le); break;
      case 6: v.setUint16(at + 2 * i, Math.round(p * 100), le); break;
      case 12: v.setUint16(at + 2 * i, 0x3c00 + (i % 64), le); break;
    }
  });
  return buf;
}

export function mrcSeeds(): { label: string; bytes: Uint8Array }[] {
  return [
    { label: 'gen/mrc-float32-le', bytes: buildMrc({ nx: 8, ny: 6, nz: 1, mode: 2 }) },
    { label: 'gen/mrcs-int16-be-3', bytes: buildMrc({ nx: 7, ny: 5, nz: 3, mode: 1, le: false }) },
    { label: 'gen/mrc-float16', bytes: buildMrc({ nx: 6, ny: 6, nz: 2, mode: 12 }) },
    { label: 'gen/mrc-imod-uint8', bytes: buildMrc({ nx: 9, ny: 4, nz: 1, mode: 0, imod: true }) },
    { label: 'gen/mrc-uint16-nostamp-ext', bytes: buildMrc({ nx: 5, ny: 5, nz: 1, mode: 6, stamp: false, nsymbt: 128 }) },
    { label: 'gen/mrc-be-nostamp-uncal', bytes: buildMrc({ nx: 4, ny: 3, nz: 2, mode: 2, le: false, stamp: false, cell: [0, 0, 0] }) },
  ];
}

// ---------------------------------------------------------------------------------------------
// SER
// ---------------------------------------------------------------------------------------------

interface SerSpec {
  version: 0x210 | 0x220;
  frames: number;
  width: number;
  height: number;
  dataType: 1 | 2 | 5 | 6 | 7 | 8;
  position?: boolean;
}

export function buildSer(s: SerSpec): Uint8Array {
  const wide = s.version > 0x210;
  const word = wide ? 8 : 4;
  const bpp = { 1: 1, 2: 2, 5: 2, 6: 4, 7: 4, 8: 8 }[s.dataType];
  const units = 'm';
  const desc = 'Number';
  const headerBytes = 26 + word + 4;
  const dimBytes = 4 + 8 + 8 + 4 + 4 + desc.length + 4 + units.length;
  const elementBytes = 50 + s.width * s.height * bpp;
  const tagBytes = s.position ? 24 : 8;
  const offsetsAt = headerBytes + dimBytes;
  const dataAt = offsetsAt + 2 * s.frames * word;
  const tagsAt = dataAt + s.frames * elementBytes;
  const buf = new Uint8Array(tagsAt + s.frames * tagBytes);
  const v = new DataView(buf.buffer);
  let p = 0;
  const u16 = (x: number) => { v.setUint16(p, x, true); p += 2; };
  const u32 = (x: number) => { v.setUint32(p, x, true); p += 4; };
  const i32 = (x: number) => { v.setInt32(p, x, true); p += 4; };
  const f64 = (x: number) => { v.setFloat64(p, x, true); p += 8; };
  const off = (x: number) => { if (wide) { v.setBigUint64(p, BigInt(x), true); p += 8; } else u32(x); };
  const str = (t: string) => { u32(t.length); for (const c of t) buf[p++] = c.charCodeAt(0); };
  u16(0x4949); u16(0x0197); u16(s.version); u32(0x4122); u32(s.position ? 0x4142 : 0x4152); u32(s.frames); u32(s.frames); off(offsetsAt); u32(1);
  u32(s.frames); f64(0); f64(1); i32(0); str(desc); str(units);
  for (let f = 0; f < s.frames; f++) off(dataAt + f * elementBytes);
  for (let f = 0; f < s.frames; f++) off(tagsAt + f * tagBytes);
  const px = ramp(s.width * s.height, 200);
  for (let f = 0; f < s.frames; f++) {
    p = dataAt + f * elementBytes;
    f64(-1e-7); f64(2.5e-10); i32(0); f64(-1e-7); f64(2.5e-10); i32(0);
    u16(s.dataType); u32(s.width); u32(s.height);
    for (const x of px) {
      switch (s.dataType) {
        case 1: v.setUint8(p, Math.round(x)); break;
        case 2: v.setUint16(p, Math.round(x * 100), true); break;
        case 5: v.setInt16(p, Math.round(x) - 100, true); break;
        case 6: v.setInt32(p, Math.round(x * 1000) - 5, true); break;
        case 7: v.setFloat32(p, x / 3, true); break;
        case 8: v.setFloat64(p, x / 3, true); break;
      }
      p += bpp;
    }
  }
  for (let f = 0; f < s.frames; f++) {
    p = tagsAt + f * tagBytes;
    u16(s.position ? 0x4142 : 0x4152); u16(0); u32(1_600_000_000 + f);
    if (s.position) { f64(1e-6); f64(-2e-6); }
  }
  return buf;
}

export function serSeeds(): { label: string; bytes: Uint8Array }[] {
  return [
    { label: 'gen/ser-v210-uint16-2frames', bytes: buildSer({ version: 0x210, frames: 2, width: 8, height: 6, dataType: 2 }) },
    { label: 'gen/ser-v220-float32-position', bytes: buildSer({ version: 0x220, frames: 1, width: 5, height: 7, dataType: 7, position: true }) },
    { label: 'gen/ser-v220-int32-3frames', bytes: buildSer({ version: 0x220, frames: 3, width: 4, height: 4, dataType: 6 }) },
    { label: 'gen/ser-v210-float64', bytes: buildSer({ version: 0x210, frames: 1, width: 3, height: 5, dataType: 8 }) },
  ];
}

// ---------------------------------------------------------------------------------------------
// EMD (HDF5), written with h5wasm
// ---------------------------------------------------------------------------------------------

/** Small Berkeley EMD and Velox EMD files (bytes), written by h5wasm into a scratch folder. */
export async function emdSeeds(): Promise<{ label: string; bytes: Uint8Array }[]> {
  await h5wasm.ready;
  const dir = mkdtempSync(join(tmpdir(), 'emseg-fuzz-emd-'));
  try {
    const berkeley = join(dir, 'berkeley.emd');
    {
      const f = new h5wasm.File(berkeley, 'w');
      f.create_attribute('version_major', 0);
      f.create_attribute('version_minor', 2);
      const data = f.create_group('data');
      const g = data.create_group('image');
      g.create_attribute('emd_group_type', 1);
      g.create_dataset({ name: 'data', data: Uint16Array.from(ramp(12 * 10, 4000), Math.round), shape: [10, 12] });
      const d1 = g.create_dataset({ name: 'dim1', data: Float64Array.from({ length: 10 }, (_, i) => i * 0.25), shape: [10] });
      d1.create_attribute('name', 'y');
      d1.create_attribute('units', '[n_m]');
      const d2 = g.create_dataset({ name: 'dim2', data: Float64Array.from({ length: 12 }, (_, i) => i * 0.25), shape: [12] });
      d2.create_attribute('name', 'x');
      d2.create_attribute('units', '[n_m]');
      f.close();
    }
    const velox = join(dir, 'velox.emd');
    {
      const f = new h5wasm.File(velox, 'w');
      f.create_dataset({ name: 'Version', data: ['{"format": "Velox", "version": 2}'] });
      const image = f.create_group('Data').create_group('Image');
      const g = image.create_group('0a1b2c3d4e5f');
      g.create_dataset({ name: 'Data', data: Uint16Array.from(ramp(9 * 8 * 2, 60000), Math.round), shape: [8, 9, 2] });
      const meta = new TextEncoder().encode(JSON.stringify({ BinaryResult: { PixelSize: { width: '1.5e-10', height: '1.5e-10' }, PixelUnitX: 'm', PixelUnitY: 'm', Offset: { x: '0', y: '0' }, Detector: 'HAADF' } }));
      const padded = new Uint8Array(512);
      padded.set(meta);
      const columns = new Uint8Array(512 * 2);
      for (let i = 0; i < 512; i++) columns[2 * i] = columns[2 * i + 1] = padded[i];
      g.create_dataset({ name: 'Metadata', data: columns, shape: [512, 2] });
      f.close();
    }
    return [
      { label: 'gen/berkeley.emd', bytes: new Uint8Array(readFileSync(berkeley)) },
      { label: 'gen/velox.emd', bytes: new Uint8Array(readFileSync(velox)) },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// COCO, VOC
// ---------------------------------------------------------------------------------------------

/** Small COCO datasets covering every geometry emseg reads (modest coordinates). */
export function cocoSeeds(): { label: string; value: unknown }[] {
  const images = [{ id: 1, width: 40, height: 30, file_name: 'a.png' }, { id: 2, width: 16, height: 16, file_name: 'b.tif', extra: 'kept' }];
  const categories = [{ id: 1, name: 'particle', supercategory: 'thing' }, { id: 7, name: 'rod' }];
  return [
    {
      label: 'gen/coco-bbox-area',
      value: { info: { description: 'fuzz' }, licenses: [], images, categories, annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [2, 3, 10, 5], area: 50, iscrowd: 0 },
        { id: 2, image_id: 2, category_id: 7, bbox: [0, 0, 4.5, 2.25], iscrowd: 1 },
      ] },
    },
    {
      label: 'gen/coco-polygons',
      value: { images, categories, annotations: [
        { id: 1, image_id: 1, category_id: 1, segmentation: [[1, 1, 12, 1, 12, 9, 1, 9]], bbox: [1, 1, 11, 8] },
        { id: 2, image_id: 1, category_id: 7, segmentation: [[20, 5, 30, 5, 25, 15], [2, 20, 6, 20, 6, 28, 2, 28]] },
      ] },
    },
    {
      label: 'gen/coco-rle',
      value: { images, categories, annotations: [
        { id: 3, image_id: 2, category_id: 1, segmentation: { size: [16, 16], counts: [20, 5, 11, 5, 11, 5, 199] }, iscrowd: 1 },
        { id: 4, image_id: 1, category_id: 7, segmentation: toCocoRle(encodeMask(Array.from({ length: 30 * 40 }, (_, i) => ((i % 30) - 15) ** 2 + (Math.floor(i / 30) - 20) ** 2 < 60 ? 1 : 0), 30, 40)) },
      ] },
    },
    {
      label: 'gen/coco-rbox',
      value: { images, categories, annotations: [
        { id: 5, image_id: 1, category_id: 7, rbox: [20, 15, 12, 3, 30], bbox: [13, 10, 14, 10] },
        { id: 6, image_id: 2, category_id: 7, rbox: [8, 8, 6, 2, -90], area: 12 },
      ] },
    },
  ];
}

export function vocSeeds(): { label: string; text: string }[] {
  return [
    {
      label: 'gen/voc-bndbox',
      text: `<?xml version="1.0"?>
<annotation><folder>images</folder><filename>a.png</filename><size><width>100</width><height>80</height><depth>1</depth></size>
  <object><name>vesicle</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
  <object><name>vesicle</name><difficult>1</difficult><bndbox><xmin>50.5</xmin><ymin>2</ymin><xmax>60</xmax><ymax>12</ymax></bndbox></object>
</annotation>`,
    },
    {
      label: 'gen/rolabelimg',
      text: `<annotation verified="no"><folder>x</folder><filename>rods.tif</filename><path>/data/rods.tif</path><source><database>Unknown</database></source>
<size><width>256</width><height>128</height><depth>1</depth></size><segmented>0</segmented>
<object><type>robndbox</type><name>rod</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult><robndbox><cx>50</cx><cy>40</cy><w>30</w><h>6</h><angle>0.5</angle></robndbox></object>
<object><type>bndbox</type><name>rod</name><difficult>0</difficult><bndbox><xmin>100</xmin><ymin>20</ymin><xmax>140</xmax><ymax>30</ymax></bndbox></object>
<object><type>robndbox</type><name>rod</name><robndbox><cx>200.25</cx><cy>64</cy><w>40</w><h>8</h><angle>3.0</angle></robndbox></object>
</annotation>`,
    },
    { label: 'gen/voc-empty', text: '<annotation><filename>empty.png</filename><size><width>10</width><height>10</height></size></annotation>' },
  ];
}
