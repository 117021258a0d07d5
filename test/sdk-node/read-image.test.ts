import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readImageBytes } from '../../sdk-node/read-image.ts';
import { isEmsegError } from '../helpers/em-formats.ts';

/** The Node reader on PNG through sharp: cases found by test/fuzz. */

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** `png` with its IHDR width and height replaced (CRC fixed, so only the sizes are wrong). */
function withSize(png: Uint8Array, width: number, height: number): Uint8Array {
  const out = png.slice();
  const v = new DataView(out.buffer);
  // Signature (8), IHDR length (4), "IHDR" (4), then width and height; the CRC covers type + data.
  v.setUint32(16, width);
  v.setUint32(20, height);
  v.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

describe('readImageBytes: PNG', () => {
  it('a PNG declaring more pixels than its compressed data can hold is refused before decoding (fuzzing: 500 Mpx from 4.5 kB took 4 s)', async () => {
    const png = new Uint8Array(await sharp(new Uint8Array(64 * 48), { raw: { width: 64, height: 48, channels: 1 } }).png().toBuffer());
    assert.equal((await readImageBytes(png, 'small.png')).width, 64);
    await assert.rejects(readImageBytes(withSize(png, 23_000, 23_000), 'huge.png'), isEmsegError('EMSEG_FORMAT_TRUNCATED', 'huge.png', /declares 23000 x 23000 pixels .* which \d+ bytes of compressed data cannot hold/));
  });
});
