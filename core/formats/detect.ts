import { isDm } from './dm.ts';
import { isHdf5 } from './hdf5.ts';
import { isMrc } from './mrc.ts';
import { isSer } from './ser.ts';
import { isTiff } from './tiff.ts';

export type DetectedFormat = 'DM' | 'MRC' | 'SER' | 'HDF5' | 'TIFF' | 'PNG' | 'JPEG';

const MRC_EXTENSIONS = /\.(mrc|mrcs|map|st|rec|ali)$/i;

/**
 * Identify an image file by its first bytes (magic numbers), falling back to the extension only for
 * MRC, whose header has no mandatory magic (`MAP ` is optional in old files). Returns null when
 * nothing matches.
 */
export function detectFormat(bytes: Uint8Array, name = ''): DetectedFormat | null {
  if (isTiff(bytes)) return 'TIFF';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'PNG';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'JPEG';
  if (isDm(bytes)) return 'DM';
  if (isSer(bytes)) return 'SER';
  if (isHdf5(bytes)) return 'HDF5';
  if (isMrc(bytes) || MRC_EXTENSIONS.test(name)) return 'MRC';
  return null;
}
