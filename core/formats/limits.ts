import { EmsegError } from '../errors.ts';
import type { PixelDType } from './types.ts';

/**
 * Largest image emseg will allocate: 2^29 pixels (e.g. 23k x 23k), 4 GiB as float64. Larger
 * declared sizes are refused before any allocation, since a corrupt header can claim billions.
 */
export const MAX_PIXELS = 2 ** 29;

export const BYTES_PER_PIXEL: Record<PixelDType, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, float64: 8,
};

/** Throws unless width x height is a sane, positive, allocatable size. */
export function checkImageSize(width: number, height: number, name: string, depth = 1): void {
  for (const [label, v] of [['width', width], ['height', height], ['depth', depth]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${name}: header declares ${label} ${v}; expected a positive integer`, { file: name });
    }
  }
  if (width * height > MAX_PIXELS) {
    throw new EmsegError(
      'EMSEG_IMAGE_TOO_LARGE',
      `${name}: header declares ${width} x ${height} = ${width * height} pixels, more than the limit of ${MAX_PIXELS}`,
      { file: name },
    );
  }
}

/** Convert a length in `unit` to nanometres; null when the unit is not a length (e.g. '1/nm', ''). */
export function toNanometres(value: number, unit: string | null | undefined): number | null {
  if (!Number.isFinite(value) || value <= 0 || unit == null) return null;
  const u = unit.trim();
  const factor: Record<string, number> = {
    m: 1e9, mm: 1e6, cm: 1e7, '\u00b5m': 1e3, '\u03bcm': 1e3, um: 1e3, micron: 1e3, microns: 1e3, nm: 1, '\u00c5': 0.1, '\u212b': 0.1, A: 0.1, angstrom: 0.1, pm: 1e-3,
  };
  const f = factor[u] ?? factor[u.toLowerCase()];
  return f === undefined ? null : value * f;
}
