/**
 * Interleaved colour samples to one grey channel, as libvips' `b-w` colourspace does for the Node SDK
 * (sharp): luminance Y = 0.2126 R + 0.7152 G + 0.0722 B in linear light, re-encoded with the sRGB
 * curve; alpha is ignored; pixels whose colour channels are equal (EM figures saved as RGB) keep
 * their value exactly. Written by hand: the web SDK has no libvips, and this is one loop.
 */
export function interleavedToGrey<T extends Uint8Array | Uint16Array>(data: T, channels: number, max: number, out: T): T {
  const pixels = out.length;
  if (channels === 1) {
    out.set(data.subarray(0, pixels));
    return out;
  }
  const colour = channels >= 3;
  const lin = (v: number): number => {
    const c = v / max;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const enc = (y: number): number => (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055) * max;
  for (let i = 0, j = 0; i < pixels; i++, j += channels) {
    const r = data[j];
    if (!colour) {
      out[i] = r; // grey + alpha
      continue;
    }
    const g = data[j + 1], b = data[j + 2];
    out[i] = r === g && g === b ? r : Math.min(max, Math.max(0, Math.round(enc(0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)))));
  }
  return out;
}
