import { EmsegError } from '../errors.ts';

/**
 * A model's `metadata_props` read straight from the ONNX protobuf without decoding the graph: the
 * top-level fields of ModelProto are walked by their wire-format tags and every field but
 * metadata_props (14) is skipped by its length, so the weights (inside `graph`, field 7) are never
 * parsed and, from a file, never even read. Written by hand because onnxruntime's JavaScript API does
 * not expose metadata_props and a protobuf library (onnx-proto) decodes the whole model, weights
 * included (~50 MB of objects for a 10 MB file).
 */
export interface ByteSource {
  /** Total size in bytes. */
  size: number;
  /** Bytes [offset, offset + length); may return fewer only at the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.byteLength, offset + length)) };
}

const METADATA_PROPS = 14;
/** More metadata than this is not an emseg model's (ours is a few kB): refuse before allocating. */
export const MAX_METADATA_BYTES = 1 << 24;
/** A model has a handful of top-level fields (plus repeated opset imports and functions). */
const MAX_TOP_LEVEL_FIELDS = 100_000;

interface Cursor {
  pos: number;
}

function varint(buf: Uint8Array, c: Cursor, source: string): number {
  // Up to 64 bits; plain arithmetic keeps lengths above 2^32 exact up to 2^53.
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= buf.length) throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${source}: the ONNX protobuf ends inside a varint`, { file: source });
    const b = buf[c.pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return value;
    scale *= 128;
  }
  throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an ONNX model (a varint longer than 10 bytes)`, { file: source });
}

const decoder = new TextDecoder();

/** key -> value of one StringStringEntryProto (key = 1, value = 2). */
function readEntry(buf: Uint8Array, source: string): [string, string] {
  const c: Cursor = { pos: 0 };
  let key = '';
  let value = '';
  while (c.pos < buf.length) {
    const tag = varint(buf, c, source);
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire !== 2) {
      skipScalar(buf, c, wire, source);
      continue;
    }
    const len = varint(buf, c, source);
    if (c.pos + len > buf.length) throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${source}: a metadata entry runs past its end`, { file: source });
    const text = decoder.decode(buf.subarray(c.pos, c.pos + len));
    c.pos += len;
    if (field === 1) key = text;
    else if (field === 2) value = text;
  }
  return [key, value];
}

function skipScalar(buf: Uint8Array, c: Cursor, wire: number, source: string): void {
  if (wire === 0) varint(buf, c, source);
  else if (wire === 1) c.pos += 8;
  else if (wire === 5) c.pos += 4;
  else throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an ONNX model (protobuf wire type ${wire})`, { file: source });
}

/** The metadata_props of an ONNX model (`source` names the file in errors). */
export async function readOnnxMetadata(src: ByteSource, source: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let pos = 0;
  let metadataBytes = 0;
  for (let fields = 0; pos < src.size; fields++) {
    if (fields >= MAX_TOP_LEVEL_FIELDS) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an ONNX model (more than ${MAX_TOP_LEVEL_FIELDS} top-level fields)`, { file: source });
    // A tag and a length: at most 20 bytes.
    const head = await src.read(pos, 20);
    const c: Cursor = { pos: 0 };
    const tag = varint(head, c, source);
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (field === 0) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an ONNX model (protobuf field 0 at byte ${pos})`, { file: source });
    if (wire !== 2) {
      skipScalar(head, c, wire, source);
      pos += c.pos;
      continue;
    }
    const len = varint(head, c, source);
    const start = pos + c.pos;
    if (start + len > src.size) {
      throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${source}: field ${field} declares ${len} bytes at byte ${start} but the file has ${src.size}: truncated`, { file: source });
    }
    if (field === METADATA_PROPS) {
      metadataBytes += len;
      if (metadataBytes > MAX_METADATA_BYTES) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an emseg model (more than ${MAX_METADATA_BYTES} bytes of metadata_props)`, { file: source });
      const [key, value] = readEntry(await src.read(start, len), source);
      out[key] = value;
    }
    pos = start + len;
  }
  if (pos !== src.size) throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${source}: the last protobuf field runs past the end of the file`, { file: source });
  return out;
}
