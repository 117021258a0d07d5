import fc from 'fast-check';

/**
 * Mutators for the fuzz targets (test/fuzz/targets.ts), as fast-check arbitraries of mutation PLANS
 * applied to seed inputs: the plan is what fast-check generates (so one seed and one run index give
 * one input, reproducibly), the seed bytes or value tree are only read.
 *
 * - Bytes (`byteMutation`): bit flips, random bytes, aligned 2/4/8-byte fields overwritten with
 *   interesting integers (0, 1, -1, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff, 2^31, 2^53, the file
 *   length...) in either byte order, float32/float64 specials (NaN, +-Infinity, 1e308...),
 *   truncation, chunk duplication, deletion and insertion. Positions are drawn anywhere, in the
 *   first 4 KiB (headers, first IFDs), or at the seed's "hotspots": offsets of header fields found
 *   by a format-aware scan (TIFF IFD entries, DM type descriptions, MRC header words, SER offset
 *   arrays, protobuf tags and lengths).
 * - JSON (`jsonMutation`): the parsed value tree is edited (numbers replaced by NaN-like strings,
 *   huge or negative values, wrong types, deleted keys, duplicated array items, deep nesting,
 *   swapped sub-trees) and stringified, then optionally text-mutated (truncation, stray brackets,
 *   quotes, control characters).
 * - XML (`xmlMutation`): element-aware text edits (text nodes replaced, elements deleted,
 *   duplicated, renamed, deeply nested, entities and DOCTYPEs inserted) plus raw text edits.
 */

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

/** Where a mutation lands: anywhere (`n` modulo the length), in the first 4 KiB, or at a hotspot. */
export type Position = { region: 'any' | 'head' | 'hot'; n: number };

export type ByteOp =
  | { op: 'flip'; at: Position; bit: number }
  | { op: 'byte'; at: Position; value: number }
  | { op: 'int'; at: Position; width: 1 | 2 | 4 | 8; le: boolean; value: number; aligned: boolean }
  | { op: 'float'; at: Position; width: 4 | 8; le: boolean; value: number; aligned: boolean }
  | { op: 'truncate'; at: Position }
  | { op: 'duplicate'; from: Position; length: number; to: Position }
  | { op: 'delete'; from: Position; length: number }
  | { op: 'insert'; at: Position; bytes: Uint8Array }
  | { op: 'fill'; from: Position; length: number; value: number };

export interface BytePlan {
  seed: number;
  ops: ByteOp[];
}

/** Integers worth writing into a header field (negative ones wrap to the field width). `-2` stands for the input's length. */
export const INTERESTING_INTS: readonly number[] = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 20, 21, 42, 43, 64, 127, 128, 255, 256, 512, 1000, 1023, 1024, 4096, 32767, 32768, 65535, 65536,
  2 ** 20, 2 ** 24, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 1,
  -1, -2, -128, -32768, -(2 ** 31), -(2 ** 53),
];
export const INTERESTING_FLOATS: readonly number[] = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 1e-45, 1e-300, 3.4e38, 1e308, -1e308, 0.5, 1e9, 4e6];
/** Marker in INTERESTING_INTS-derived values: the length of the input (or one past, one before). */
const LENGTH_MARKERS = [-1001, -1002, -1003];

const position = (hotspots: boolean): fc.Arbitrary<Position> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ region: fc.constant('any' as const), n: fc.nat() }) },
    { weight: 4, arbitrary: fc.record({ region: fc.constant('head' as const), n: fc.nat() }) },
    { weight: hotspots ? 6 : 0, arbitrary: fc.record({ region: fc.constant('hot' as const), n: fc.nat() }) },
  );

const intValue = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...INTERESTING_INTS, ...LENGTH_MARKERS) },
  { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: -16, max: 4096 }) },
);

function byteOp(hotspots: boolean): fc.Arbitrary<ByteOp> {
  const at = position(hotspots);
  const length = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 1 << 18 }));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('byte' as const), at, value: fc.integer({ min: 0, max: 255 }) }) },
    {
      weight: 6,
      arbitrary: fc.record({ op: fc.constant('int' as const), at, width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), le: fc.boolean(), value: intValue, aligned: fc.boolean() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('float' as const), at, width: fc.constantFrom(4 as const, 8 as const), le: fc.boolean(), value: fc.constantFrom(...INTERESTING_FLOATS), aligned: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), from: at, length, to: at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), from: at, length }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('fill' as const), from: at, length, value: fc.constantFrom(0, 0xff, 0x41) }) },
  );
}

/** A plan: which seed, then 1-8 operations (mostly 1-3: inputs stay close to valid files). */
export function bytePlan(seedCount: number, hotspots = true): fc.Arbitrary<BytePlan> {
  return fc.record({
    seed: fc.nat({ max: Math.max(0, seedCount - 1) }),
    ops: fc.oneof({ weight: 4, arbitrary: fc.array(byteOp(hotspots), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(byteOp(hotspots), { minLength: 1, maxLength: 8 }) }),
  });
}

function resolve(p: Position, length: number, hot: readonly number[]): number {
  if (length === 0) return 0;
  if (p.region === 'hot' && hot.length > 0) return Math.min(hot[p.n % hot.length], length - 1);
  if (p.region === 'head') return p.n % Math.min(length, 4096);
  return p.n % length;
}

function writeInt(b: Uint8Array, at: number, width: number, le: boolean, value: number): void {
  // Two's complement of `value` in `width` bytes (BigInt keeps 2^53 and 2^63 exact).
  const bits = BigInt(width * 8);
  let v = BigInt.asUintN(Number(bits), BigInt(Math.trunc(value)));
  for (let i = 0; i < width && at + i < b.length; i++) {
    const byte = Number(v & 0xffn);
    v >>= 8n;
    b[le ? at + i : at + width - 1 - i] = byte;
  }
}

/** Applies `ops` to a copy of `seed`. `hot` are the seed's hotspot offsets (they shift as bytes move; that is fine). */
export function applyByteOps(seed: Uint8Array, ops: readonly ByteOp[], hot: readonly number[] = []): Uint8Array {
  // A copy even when `seed` is a Buffer (whose slice() is a view: the seed itself would be mutated).
  let b = new Uint8Array(seed);
  for (const o of ops) {
    const len = b.length;
    switch (o.op) {
      case 'flip': if (len) b[resolve(o.at, len, hot)] ^= 1 << o.bit; break;
      case 'byte': if (len) b[resolve(o.at, len, hot)] = o.value; break;
      case 'int':
      case 'float': {
        if (!len) break;
        let at = resolve(o.at, len, hot);
        if (o.aligned) at -= at % o.width;
        if (o.op === 'float') {
          const tmp = new DataView(new ArrayBuffer(8));
          if (o.width === 4) tmp.setFloat32(0, o.value, o.le);
          else tmp.setFloat64(0, o.value, o.le);
          for (let i = 0; i < o.width && at + i < len; i++) b[at + i] = tmp.getUint8(i);
        } else {
          const value = o.value === -1001 ? len : o.value === -1002 ? len + 1 : o.value === -1003 ? len - 1 : o.value;
          writeInt(b, at, o.width, o.le, value);
        }
        break;
      }
      case 'truncate': b = b.slice(0, resolve(o.at, len, hot)); break;
      case 'duplicate': {
        if (!len) break;
        const from = resolve(o.from, len, hot);
        const chunk = b.slice(from, Math.min(len, from + o.length));
        const to = resolve(o.to, len, hot);
        const out = new Uint8Array(len + chunk.length);
        out.set(b.subarray(0, to));
        out.set(chunk, to);
        out.set(b.subarray(to), to + chunk.length);
        b = out;
        break;
      }
      case 'delete': {
        const from = resolve(o.from, len, hot);
        const end = Math.min(len, from + o.length);
        const out = new Uint8Array(len - (end - from));
        out.set(b.subarray(0, from));
        out.set(b.subarray(end), from);
        b = out;
        break;
      }
      case 'insert': {
        const at = resolve(o.at, len, hot);
        const out = new Uint8Array(len + o.bytes.length);
        out.set(b.subarray(0, at));
        out.set(o.bytes, at);
        out.set(b.subarray(at), at + o.bytes.length);
        b = out;
        break;
      }
      case 'fill': {
        const from = resolve(o.from, len, hot);
        b.fill(o.value, from, Math.min(len, from + o.length));
        break;
      }
    }
  }
  return b;
}

export interface ByteSeed {
  /** Label in reports (file name or generator). */
  label: string;
  bytes: Uint8Array;
  /** Offsets of header fields worth hitting (format-aware scan). */
  hot: number[];
}

/** The arbitrary of mutated inputs over `seeds`: the plan mapped through applyByteOps. */
export function mutatedBytes(seeds: readonly ByteSeed[]): fc.Arbitrary<{ seed: string; bytes: Uint8Array }> {
  return bytePlan(seeds.length, seeds.some((s) => s.hot.length > 0)).map((plan) => {
    const s = seeds[plan.seed];
    return { seed: s.label, bytes: applyByteOps(s.bytes, plan.ops, s.hot) };
  });
}

// ---------------------------------------------------------------------------------------------
// Hotspot scans (best effort: they only steer mutations, so they never throw)
// ---------------------------------------------------------------------------------------------

/** Offsets of the fields of every IFD entry (tag, type, count, value/offset) and the IFD headers of a TIFF. */
export function tiffHotspots(b: Uint8Array): number[] {
  const out: number[] = [2, 4];
  if (b.length < 16) return out;
  const le = b[0] === 0x49;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const big = v.getUint16(2, le) === 43;
  let ifd = big ? Number(v.getBigUint64(8, le)) : v.getUint32(4, le);
  const seen = new Set<number>();
  for (let pages = 0; ifd > 0 && ifd + 8 < b.length && !seen.has(ifd) && pages < 64; pages++) {
    seen.add(ifd);
    out.push(ifd);
    const count = big ? Number(v.getBigUint64(ifd, le)) : v.getUint16(ifd, le);
    const entry = big ? 20 : 12;
    const first = ifd + (big ? 8 : 2);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const at = first + i * entry;
      if (at + entry > b.length) break;
      out.push(at, at + 2, at + 4, at + (big ? 12 : 8));
      // Out-of-line values (offset fields) are hot too.
      const off = big ? Number(v.getBigUint64(at + 12, le)) : v.getUint32(at + 8, le);
      if (off > 0 && off < b.length) out.push(off);
    }
    const next = first + count * entry;
    if (next + (big ? 8 : 4) > b.length) break;
    out.push(next);
    ifd = big ? Number(v.getBigUint64(next, le)) : v.getUint32(next, le);
  }
  return out;
}

/** DM3/DM4: the header words, and after every "%%%%" delimiter the type-description words; tag kinds and name lengths. */
export function dmHotspots(b: Uint8Array): number[] {
  const out: number[] = [0, 4, 8, 12, 16];
  if (b.length < 16) return out;
  const version = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
  const word = version === 4 ? 8 : 4;
  for (let i = 0; i + 4 <= b.length && out.length < 20_000; i++) {
    if (b[i] === 0x25 && b[i + 1] === 0x25 && b[i + 2] === 0x25 && b[i + 3] === 0x25) {
      for (let k = 0; k < 6; k++) out.push(i + 4 + k * word);
      // The tag header before the delimiter: kind (1 byte), name length (2 bytes), name.
      out.push(Math.max(0, i - (version === 4 ? 8 : 0) - 3));
    }
  }
  return out;
}

/** MRC: every 4-byte word of the 1024-byte header. */
export function mrcHotspots(): number[] {
  return Array.from({ length: 256 }, (_, i) => i * 4);
}

/** SER: header fields, dimension records, the offset arrays and the first data element's header. */
export function serHotspots(b: Uint8Array): number[] {
  const out: number[] = [0, 2, 4, 6, 10, 14, 18, 22, 26, 30, 34];
  if (b.length < 34) return out;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const wide = v.getUint16(4, true) > 0x210;
  const offsetArray = wide ? Number(v.getBigUint64(18, true)) : v.getUint32(18, true);
  const total = v.getUint32(14, true);
  for (let i = 0; i < Math.min(total, 64) * 2; i++) out.push(offsetArray + i * (wide ? 8 : 4));
  const first = offsetArray + (wide ? 8 : 4) <= b.length ? (wide ? Number(v.getBigUint64(offsetArray, true)) : v.getUint32(offsetArray, true)) : 0;
  for (const d of [0, 8, 16, 20, 28, 36, 40, 42, 46]) out.push(first + d);
  for (let i = 30; i < Math.min(b.length, 200); i += 4) out.push(i);
  return out.filter((o) => o >= 0 && o < b.length);
}

/** Protobuf (ONNX): offsets of tags and length varints, walking length-delimited fields that parse as messages, a few levels deep. */
export function protobufHotspots(b: Uint8Array, maxDepth = 4, limit = 50_000): number[] {
  const out: number[] = [];
  const walk = (start: number, end: number, depth: number): boolean => {
    let pos = start;
    const local: number[] = [];
    const varint = (): number | null => {
      let v = 0;
      let scale = 1;
      for (let i = 0; i < 10; i++) {
        if (pos >= end) return null;
        const x = b[pos++];
        v += (x & 0x7f) * scale;
        if (!(x & 0x80)) return v;
        scale *= 128;
      }
      return null;
    };
    const children: [number, number][] = [];
    while (pos < end) {
      local.push(pos);
      const tag = varint();
      if (tag === null || tag < 8) return false;
      const wire = tag % 8;
      if (wire === 0) { if (varint() === null) return false; }
      else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else if (wire === 2) {
        local.push(pos);
        const len = varint();
        if (len === null || pos + len > end) return false;
        if (len > 1) children.push([pos, pos + len]);
        pos += len;
      } else return false;
    }
    if (pos !== end) return false;
    for (const o of local) if (out.length < limit) out.push(o);
    if (depth < maxDepth) for (const [s, e] of children) if (out.length < limit) walk(s, e, depth + 1);
    return true;
  };
  walk(0, b.length, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Replacement values: NaN-like strings, huge / negative / fractional numbers, wrong types. */
const JSON_REPLACEMENTS: readonly Json[] = [
  'NaN', 'Infinity', '-Infinity', '1e309', '', ' ', '0', '-1', 'null', 'x'.repeat(300), '\u0000', '\ud800', '../../etc/passwd',
  1e308, -1e308, 4e6, 1e6, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), -1, 0, -0, 0.5, 1e-300, 1.5, 3, 1000,
  null, true, false, [], {}, [[]], [0], [1, 2, 3, 4], [0, 0, 1e308, 1e308], { a: 1 },
];
/** Modest numeric replacements for paths where huge values only measure a known slow path (polygon rasterisation). */
const MODEST_REPLACEMENTS: readonly Json[] = ['NaN', '', null, true, [], {}, -1, 0, -0, 0.5, 1.5, 3, 100, 1000, -1000, 5000];

export type JsonOp =
  | { op: 'replace'; path: number; value: number; modest: number }
  | { op: 'delete'; path: number }
  | { op: 'duplicate'; path: number; times: number }
  | { op: 'nest'; path: number; depth: number; kind: 'array' | 'object' }
  | { op: 'stringify-number'; path: number }
  | { op: 'swap'; path: number; other: number }
  | { op: 'add-key'; path: number; key: string; value: number }
  | { op: 'empty'; path: number };

export type TextOp =
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; length: number }
  | { op: 'byte'; at: number; code: number };

export interface JsonPlan {
  seed: number;
  ops: JsonOp[];
  text: TextOp[];
}

const jsonOp: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('replace' as const), path: fc.nat(), value: fc.nat(), modest: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), path: fc.nat(), times: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 500 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nest' as const), path: fc.nat(), depth: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1000, max: 20_000 })), kind: fc.constantFrom('array' as const, 'object' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('stringify-number' as const), path: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('swap' as const), path: fc.nat(), other: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('add-key' as const), path: fc.nat(), key: fc.constantFrom('__proto__', 'constructor', 'id', 'size', 'counts', 'bbox', 'segmentation', 'objects', 'Label', 'toString', ''), value: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('empty' as const), path: fc.nat() }) },
);

const TEXT_INSERTS = ['{', '}', '[', ']', '"', ',', ':', '\\', '\\u', 'NaN', 'Infinity', '-', '1e999', '\u0000', '\ufeff', '//', '/*', 'null', '<', '&', '\n'];
const textOp: fc.Arbitrary<TextOp> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...TEXT_INSERTS), fc.string({ maxLength: 8 })) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('byte' as const), at: fc.nat(), code: fc.integer({ min: 0, max: 0xffff }) }),
);

export function jsonPlan(seedCount: number): fc.Arbitrary<JsonPlan> {
  return fc.record({
    seed: fc.nat({ max: Math.max(0, seedCount - 1) }),
    ops: fc.oneof({ weight: 3, arbitrary: fc.array(jsonOp, { minLength: 1, maxLength: 1 }) }, { weight: 2, arbitrary: fc.array(jsonOp, { minLength: 1, maxLength: 4 }) }),
    // Most inputs stay valid JSON so that the validators, not JSON.parse, are exercised.
    text: fc.oneof({ weight: 5, arbitrary: fc.constant<TextOp[]>([]) }, { weight: 1, arbitrary: fc.array(textOp, { minLength: 1, maxLength: 3 }) }),
  });
}

interface Slot {
  /** JSON-pointer-like path, for `modest` decisions. */
  path: string;
  get(): Json;
  set(v: Json): void;
  remove(): void;
  parent: Json[] | { [key: string]: Json };
}

/**
 * A value slot of the tree picked by a random walk from the root, seeded by `n`: at each container
 * the walk stops with probability 1/4 (and at leaves), else goes on into a random child. O(depth),
 * whatever the size of the tree (seeds of 100 kB have tens of thousands of values).
 */
function pickSlot(root: { v: Json }, n: number): Slot {
  let state = (n ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  let slot: Slot = { path: '', get: () => root.v, set: (v) => { root.v = v; }, remove: () => { root.v = null; }, parent: [] };
  for (let depth = 0; depth < 256; depth++) {
    const value = slot.get();
    if (value === null || typeof value !== 'object') break;
    const keys = Array.isArray(value) ? null : Object.keys(value);
    const size = keys ? keys.length : (value as Json[]).length;
    if (size === 0 || (depth > 0 && next() % 4 === 0)) break;
    const pick = next() % size;
    if (Array.isArray(value)) {
      const arr = value;
      slot = { path: `${slot.path}[${pick}]`, get: () => arr[pick], set: (v) => { arr[pick] = v; }, remove: () => { arr.splice(pick, 1); }, parent: arr };
    } else {
      const obj = value as { [key: string]: Json };
      const key = (keys as string[])[pick];
      slot = { path: `${slot.path}.${key}`, get: () => obj[key], set: (v) => { obj[key] = v; }, remove: () => { delete obj[key]; }, parent: obj };
    }
  }
  return slot;
}

function nested(value: Json, depth: number, kind: 'array' | 'object'): Json {
  let v = value;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

/** Nestings deeper than this are spliced into the text after JSON.stringify (which recurses) by markers. */
const TREE_NEST_LIMIT = 64;

/**
 * Applies a plan to a deep copy of `seed`; `modest(path)` says where huge numbers are replaced by
 * modest ones. Deep nestings are left as marker strings listed in `nests`: see jsonText.
 */
export function applyJsonOps(seed: Json, ops: readonly JsonOp[], modest: (path: string) => boolean = () => false, nests: { marker: string; open: string; close: string; inner: Json }[] = []): Json {
  const root = { v: structuredClone(seed) };
  for (const o of ops) {
    const s = pickSlot(root, o.path);
    switch (o.op) {
      case 'replace': {
        const pool = modest(s.path) ? MODEST_REPLACEMENTS : JSON_REPLACEMENTS;
        s.set(structuredClone(pool[(modest(s.path) ? o.modest : o.value) % pool.length]));
        break;
      }
      case 'delete': s.remove(); break;
      case 'duplicate': {
        const v = s.get();
        if (Array.isArray(v) && v.length > 0) {
          const copies = v.slice();
          // Bounded: at most ~1 MB of JSON more.
          const unit = JSON.stringify(copies).length;
          const times = Math.max(1, Math.min(o.times, Math.floor(1e6 / Math.max(1, unit))));
          for (let t = 0; t < times; t++) v.push(...structuredClone(copies));
        } else if (Array.isArray(s.parent)) {
          for (let t = 0; t < Math.min(o.times, 50); t++) s.parent.push(structuredClone(v));
        }
        break;
      }
      case 'nest':
        if (o.depth <= TREE_NEST_LIMIT) s.set(nested(s.get(), o.depth, o.kind));
        else {
          const marker = `\u0001nest${nests.length}\u0001`;
          nests.push({ marker, open: (o.kind === 'array' ? '[' : '{"a":').repeat(o.depth), close: (o.kind === 'array' ? ']' : '}').repeat(o.depth), inner: s.get() });
          s.set(marker);
        }
        break;
      case 'stringify-number': {
        const v = s.get();
        if (typeof v === 'number') s.set(String(v));
        else if (Array.isArray(v)) s.set(v.map((x) => (typeof x === 'number' ? String(x) : x)));
        break;
      }
      case 'swap': {
        const other = pickSlot(root, o.other);
        const a = s.get();
        s.set(structuredClone(other.get()));
        if (other.path !== '' && !other.path.startsWith(s.path)) other.set(a);
        break;
      }
      case 'add-key': {
        const v = s.get();
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          Object.defineProperty(v, o.key, { value: structuredClone(JSON_REPLACEMENTS[o.value % JSON_REPLACEMENTS.length]), enumerable: true, writable: true, configurable: true });
        }
        break;
      }
      case 'empty': {
        const v = s.get();
        s.set(Array.isArray(v) ? [] : v !== null && typeof v === 'object' ? {} : typeof v === 'string' ? '' : 0);
        break;
      }
    }
  }
  return root.v;
}

/** JSON text of a mutated tree, with deep nestings (markers) expanded as text. */
export function jsonText(value: Json, nests: readonly { marker: string; open: string; close: string; inner: Json }[]): string {
  let text = JSON.stringify(value) ?? 'null';
  for (let i = nests.length - 1; i >= 0; i--) {
    const n = nests[i];
    text = text.replace(JSON.stringify(n.marker), () => `${n.open}${JSON.stringify(n.inner) ?? 'null'}${n.close}`);
  }
  // A marker nested inside another's inner value was expanded with it (inner text is stringified after its own markers were set).
  for (const n of nests) text = text.replace(JSON.stringify(n.marker), () => `${n.open}null${n.close}`);
  return text;
}

/** One mutated JSON text: tree ops on `seed`, then text ops. */
export function mutateJsonText(seed: unknown, ops: readonly JsonOp[], text: readonly TextOp[], modest?: (path: string) => boolean): string {
  const nests: { marker: string; open: string; close: string; inner: Json }[] = [];
  const value = applyJsonOps(seed as Json, ops, modest, nests);
  return applyTextOps(jsonText(value, nests), text);
}

export function applyTextOps(text: string, ops: readonly TextOp[]): string {
  let t = text;
  for (const o of ops) {
    const at = t.length === 0 ? 0 : o.at % (t.length + 1);
    if (o.op === 'truncate') t = t.slice(0, at);
    else if (o.op === 'insert') t = t.slice(0, at) + o.text + t.slice(at);
    else if (o.op === 'delete') t = t.slice(0, at) + t.slice(at + o.length);
    else t = t.slice(0, at) + String.fromCharCode(o.code) + t.slice(at + 1);
  }
  return t;
}

/** Mutated JSON texts over parsed `seeds`; `modest(path)` keeps numbers modest on those paths. */
export function mutatedJson(seeds: readonly { label: string; value: unknown }[], modest?: (path: string) => boolean): fc.Arbitrary<{ seed: string; text: string }> {
  return jsonPlan(seeds.length).map((plan) => {
    const s = seeds[plan.seed];
    return { seed: s.label, text: mutateJsonText(s.value, plan.ops, plan.text, modest) };
  });
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

export type XmlOp =
  | { op: 'text'; n: number; value: number }
  | { op: 'drop'; n: number }
  | { op: 'duplicate'; n: number; times: number }
  | { op: 'rename'; n: number; name: number }
  | { op: 'nest'; n: number; depth: number }
  | { op: 'prefix'; value: number };

const XML_TEXTS = ['', ' ', 'NaN', '-1', '0', '1e309', 'Infinity', '-Infinity', '1e308', '4e6', '0x10', '1,5', '9'.repeat(400), '&amp;', '&lt;5', '&#0;', '&#x110000;', '&undefined;', '<![CDATA[12]]>', '<x/>', ']]>', '\u0000', '1 2', '-0', '3.14159'];
const XML_NAMES = ['object', 'name', 'bndbox', 'robndbox', 'size', 'annotation', 'xmin', 'width', 'cx', 'angle', 'difficult', '__proto__', 'constructor', 'a:b', 'x'];
const XML_PREFIXES = [
  '<?xml version="1.0" encoding="UTF-8"?>\n',
  '\ufeff',
  '<!DOCTYPE annotation [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n',
  '<!DOCTYPE annotation [<!ENTITY w "1">]>\n',
  '<!-- comment -->',
  '<?pi x?>',
  '<annotation>',
  '</annotation>',
];

export interface XmlPlan {
  seed: number;
  ops: XmlOp[];
  text: TextOp[];
}

const xmlOp: fc.Arbitrary<XmlOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('text' as const), n: fc.nat(), value: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('drop' as const), n: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('duplicate' as const), n: fc.nat(), times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2000 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rename' as const), n: fc.nat(), name: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nest' as const), n: fc.nat(), depth: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 500, max: 20_000 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prefix' as const), value: fc.nat() }) },
);

export function xmlPlan(seedCount: number): fc.Arbitrary<XmlPlan> {
  return fc.record({
    seed: fc.nat({ max: Math.max(0, seedCount - 1) }),
    ops: fc.array(xmlOp, { minLength: 1, maxLength: 4 }),
    text: fc.oneof({ weight: 4, arbitrary: fc.constant<TextOp[]>([]) }, { weight: 1, arbitrary: fc.array(textOp, { minLength: 1, maxLength: 3 }) }),
  });
}

/** Leaf elements `<a>text</a>` and whole elements `<a>...</a>` (innermost first) of a simple XML text. */
function elements(xml: string, limit = 20_000): { start: number; end: number; name: string; inner: [number, number]; leaf: boolean }[] {
  const out: { start: number; end: number; name: string; inner: [number, number]; leaf: boolean }[] = [];
  const stack: { name: string; start: number; innerStart: number; leaf: boolean }[] = [];
  const re = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[3] === '/') continue;
    if (m[1] === '') {
      if (stack.length) stack[stack.length - 1].leaf = false;
      stack.push({ name: m[2], start: m.index, innerStart: m.index + m[0].length, leaf: true });
    } else {
      let i = stack.length - 1;
      while (i >= 0 && stack.length - i < 64 && stack[i].name !== m[2]) i--;
      if (i < 0 || stack[i].name !== m[2]) continue;
      const open = stack[i];
      stack.length = i;
      out.push({ start: open.start, end: m.index + m[0].length, name: m[2], inner: [open.innerStart, m.index], leaf: open.leaf });
      if (out.length >= limit) break;
    }
  }
  return out;
}

export function applyXmlOps(xml: string, ops: readonly XmlOp[]): string {
  let t = xml;
  for (const o of ops) {
    if (o.op === 'prefix') {
      t = XML_PREFIXES[o.value % XML_PREFIXES.length] + t;
      continue;
    }
    const els = elements(t);
    if (els.length === 0) break;
    const e = els[o.n % els.length];
    const whole = t.slice(e.start, e.end);
    switch (o.op) {
      case 'text': {
        const leaves = els.filter((x) => x.leaf);
        const leaf = leaves.length ? leaves[o.n % leaves.length] : e;
        let v = XML_TEXTS[o.value % XML_TEXTS.length];
        if (v === '&undefined;' && o.value % 2) v = '&d;';
        t = t.slice(0, leaf.inner[0]) + v + t.slice(leaf.inner[1]);
        break;
      }
      case 'drop': t = t.slice(0, e.start) + t.slice(e.end); break;
      case 'duplicate': t = t.slice(0, e.end) + whole.repeat(Math.min(o.times, Math.floor(2e6 / Math.max(1, whole.length)))) + t.slice(e.end); break;
      case 'rename': {
        const name = XML_NAMES[o.name % XML_NAMES.length];
        const inner = t.slice(e.inner[0], e.inner[1]);
        t = `${t.slice(0, e.start)}<${name}>${inner}</${name}>${t.slice(e.end)}`;
        break;
      }
      case 'nest': t = t.slice(0, e.start) + `<${e.name}>`.repeat(o.depth) + whole + `</${e.name}>`.repeat(o.depth) + t.slice(e.end); break;
    }
  }
  return t;
}

export function mutatedXml(seeds: readonly { label: string; text: string }[]): fc.Arbitrary<{ seed: string; text: string }> {
  return xmlPlan(seeds.length).map((plan) => {
    const s = seeds[plan.seed];
    return { seed: s.label, text: applyTextOps(applyXmlOps(s.text, plan.ops), plan.text) };
  });
}
