import { EmsegError } from '../errors.ts';

/**
 * COCO's compressed RLE string: each count (after the third, as the difference to the count two
 * before it) is written like LEB128 but with 5 data bits per character, a continuation bit 0x20 and
 * the characters offset by 48 ('0'..'o'). Byte-compatible with pycocotools' `rleToString`.
 * Arithmetic uses plain numbers (exact to 2^53) because the C code works on 64-bit longs.
 */
export function rleCountsToString(counts: ArrayLike<number>): string {
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      const q = Math.floor(x / 32);
      let c = x - q * 32; // x & 0x1f for two's complement
      x = q; // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  // Chunked to keep String.fromCharCode's argument count bounded for huge masks.
  let s = '';
  for (let i = 0; i < chars.length; i += 8192) s += String.fromCharCode(...chars.slice(i, i + 8192));
  return s;
}

/** Inverse of `rleCountsToString`; throws EMSEG_RLE_INVALID on characters outside '0'..'o' or a cut-off value. */
export function rleCountsFromString(s: string, where = 'RLE counts'): Uint32Array {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) {
        throw new EmsegError('EMSEG_RLE_INVALID', `${where}: compressed RLE string ends inside a value`);
      }
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) {
        throw new EmsegError(
          'EMSEG_RLE_INVALID',
          `${where}: invalid character ${JSON.stringify(s[p])} at offset ${p} in compressed RLE string`,
        );
      }
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // sign-extend
      if (k > 10) throw new EmsegError('EMSEG_RLE_INVALID', `${where}: run length too long in compressed RLE string`);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    if (x < 0 || x > 0xffffffff) {
      throw new EmsegError('EMSEG_RLE_INVALID', `${where}: run ${counts.length} decodes to ${x}, outside 0..2^32-1`);
    }
    counts.push(x);
  }
  return Uint32Array.from(counts);
}
