import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isEmsegError } from '../../core/errors.ts';
import { type ByteSource, bytesSource, readOnnxMetadata } from '../../core/inference/onnx-metadata.ts';
import { decodeModel } from '../../onnx/model.ts';

const zoo = new URL('../../model-zoo/', import.meta.url).pathname;
const models = ['particle/particle.onnx', 'vesicles/vesicles.onnx', 'nanorod/nanorod.onnx'];

/** A source that counts the bytes it hands out. */
function counting(bytes: Uint8Array): ByteSource & { bytesRead: number } {
  const s = { size: bytes.byteLength, bytesRead: 0, read: async (offset: number, length: number) => {
    const out = bytes.subarray(offset, Math.min(bytes.byteLength, offset + length));
    s.bytesRead += out.byteLength;
    return out;
  } };
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'parsed';
  } catch (e) {
    assert.ok(isEmsegError(e), `not an EmsegError: ${(e as Error).stack}`);
    return e.code;
  }
}

describe('readOnnxMetadata (metadata_props without decoding the graph)', () => {
  for (const m of models) {
    it(`${m}: the same metadata as the full protobuf decoder, reading a few kB of the file`, async () => {
      const bytes = new Uint8Array(readFileSync(zoo + m));
      const full = Object.fromEntries((decodeModel(bytes, m).metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
      const src = counting(bytes);
      assert.deepEqual(await readOnnxMetadata(src, m), full);
      assert.ok(Object.keys(full).includes('emseg.task'));
      // The weights are skipped by length: what is read is the metadata plus a few tags.
      assert.ok(src.bytesRead < 20_000, `read ${src.bytesRead} of ${bytes.byteLength} bytes`);
    });
  }

  it('a truncated model, random bytes and an empty file: typed errors, never a hang', async () => {
    const bytes = new Uint8Array(readFileSync(zoo + models[0]));
    for (const cut of [1, 7, 100, bytes.length >> 1, bytes.length - 1]) {
      assert.equal(await codeOf(readOnnxMetadata(bytesSource(bytes.subarray(0, cut)), 'cut.onnx')), 'EMSEG_FORMAT_TRUNCATED', `cut at ${cut}`);
    }
    let seed = 1;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 200; k++) {
      const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
      const code = await codeOf(readOnnxMetadata(bytesSource(junk), 'junk.onnx'));
      assert.ok(['parsed', 'EMSEG_FORMAT_TRUNCATED', 'EMSEG_FORMAT_BAD_HEADER'].includes(code), code);
    }
    assert.deepEqual(await readOnnxMetadata(bytesSource(new Uint8Array(0)), 'empty.onnx'), {});
  });

  it('a field that declares 2^50 bytes is refused before any read of that size', async () => {
    // tag of field 7 (graph), wire type 2, then the varint 2^50.
    const len = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    const src = counting(Uint8Array.from([7 * 8 + 2, ...len]));
    assert.equal(await codeOf(readOnnxMetadata(src, 'huge.onnx')), 'EMSEG_FORMAT_TRUNCATED');
    assert.ok(src.bytesRead <= 20);
  });
});
