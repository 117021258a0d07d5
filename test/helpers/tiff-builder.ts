/**
 * A tiny hand-built TIFF writer for layouts emseg's own writer never produces (big-endian, BigTIFF,
 * tiles, several pages, odd tags), for the TIFF reader's tests and the fuzzer's seeds. Tag values
 * are numbers (RATIONAL, type 5: numerator, denominator pairs), a string (ASCII, NUL added), or a
 * function of the page's data offset (strip and tile offsets).
 */
export type TiffValue = number[] | string | ((dataAt: number) => number[]);
export interface TiffTag {
  tag: number;
  type: number;
  values: TiffValue;
}
export interface TiffPage {
  tags: TiffTag[];
  data: Uint8Array;
}
const SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 12: 8, 16: 8 };

export function buildTiff(pages: TiffPage[], { le = true, big = false } = {}): Uint8Array {
  const buf = new Uint8Array(1 << 17);
  const v = new DataView(buf.buffer);
  let cur = big ? 16 : 8;
  const put = (at: number, type: number, x: number): void => {
    if (type === 1 || type === 2) v.setUint8(at, x);
    else if (type === 3) v.setUint16(at, x, le);
    else if (type === 4) v.setUint32(at, x, le);
    else if (type === 12) v.setFloat64(at, x, le);
    else if (type === 16) v.setBigUint64(at, BigInt(x), le);
  };
  const putOffset = (at: number, x: number): void => (big ? v.setBigUint64(at, BigInt(x), le) : v.setUint32(at, x, le));
  buf.set(le ? [0x49, 0x49] : [0x4d, 0x4d]);
  v.setUint16(2, big ? 43 : 42, le);
  if (big) {
    v.setUint16(4, 8, le);
    v.setUint16(6, 0, le);
  }
  let prevNext = big ? 8 : 4;
  for (const page of pages) {
    const dataAt = cur;
    buf.set(page.data, cur);
    cur += page.data.length + (page.data.length % 2);
    const tags = [...page.tags].sort((a, b) => a.tag - b.tag);
    const encoded = tags.map((t) => {
      const vals = typeof t.values === 'function' ? t.values(dataAt) : t.values;
      const raw = typeof vals === 'string' ? [...vals, '\0'].map((c) => c.charCodeAt(0)) : vals;
      const count = t.type === 5 ? raw.length / 2 : raw.length;
      return { ...t, raw, count, bytes: count * SIZES[t.type] };
    });
    const inline = big ? 8 : 4;
    const valueAt = new Map<number, number>();
    encoded.forEach((e, i) => {
      if (e.bytes > inline) {
        valueAt.set(i, cur);
        const size = e.type === 5 ? 4 : SIZES[e.type];
        e.raw.forEach((x, k) => put(cur + k * size, e.type === 5 ? 4 : e.type, x));
        cur += e.bytes + (e.bytes % 2);
      }
    });
    const ifdAt = cur;
    putOffset(prevNext, ifdAt);
    const entrySize = big ? 20 : 12;
    if (big) v.setBigUint64(cur, BigInt(encoded.length), le);
    else v.setUint16(cur, encoded.length, le);
    cur += big ? 8 : 2;
    encoded.forEach((e, i) => {
      const at = cur + i * entrySize;
      v.setUint16(at, e.tag, le);
      v.setUint16(at + 2, e.type, le);
      if (big) v.setBigUint64(at + 4, BigInt(e.count), le);
      else v.setUint32(at + 4, e.count, le);
      const field = at + (big ? 12 : 8);
      const where = valueAt.get(i);
      if (where !== undefined) putOffset(field, where);
      else {
        const size = e.type === 5 ? 4 : SIZES[e.type];
        e.raw.forEach((x, k) => put(field + k * size, e.type === 5 ? 4 : e.type, x));
      }
    });
    cur += encoded.length * entrySize;
    prevNext = cur;
    putOffset(cur, 0);
    cur += big ? 8 : 4;
  }
  return buf.slice(0, cur);
}

