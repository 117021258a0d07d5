/**
 * Writes docs/synthetic-contact-sheet.png: synthetic TEM vesicle and HAADF nanorod images beside real
 * micrographs from ../shared/data/emps-train (MIT; Yildirim & Cole, J. Chem. Inf. Model. 2021,
 * doi:10.1021/acs.jcim.0c01455; figure DOIs in its metadata.csv), so a reader can judge realism.
 * Usage: node --import tsx scripts/contact-sheet.ts
 */
import { join } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { generateSynthImage } from '../sdk-node/synth.ts';
import { repoRoot, sharedDir } from '../test/helpers/fixtures.ts';

const TILE = 320;

async function synthTile(kind: 'tem-vesicles' | 'haadf-nanorods', index: number): Promise<Buffer> {
  const im = generateSynthImage({ kind, seed: 2026, size: 512 }, index);
  // Display stretch: 0.5 to 99.5 percentile, as the models see it.
  const sorted = Float64Array.from(im.data).sort();
  const lo = sorted[Math.floor(0.005 * sorted.length)], hi = sorted[Math.floor(0.995 * sorted.length)];
  const u8 = Uint8Array.from(im.data, (v) => Math.max(0, Math.min(255, Math.round((255 * (v - lo)) / (hi - lo)))));
  return sharp(u8, { raw: { width: im.width, height: im.height, channels: 1 } }).resize(TILE, TILE).toColourspace('b-w').png().toBuffer();
}

async function realTile(file: string): Promise<Buffer> {
  return sharp(join(sharedDir, 'data', 'emps-train', 'images', file)).greyscale().resize(TILE, TILE, { fit: 'cover' }).png().toBuffer();
}

function label(text: string): Buffer {
  return Buffer.from(`<svg width="${TILE}" height="26"><rect width="100%" height="100%" fill="black" opacity="0.65"/><text x="6" y="18" font-family="sans-serif" font-size="14" fill="white">${text}</text></svg>`);
}

const rows: [string, Promise<Buffer>][][] = [
  [
    ['synthetic TEM vesicles #0', synthTile('tem-vesicles', 0)],
    ['synthetic TEM vesicles #1', synthTile('tem-vesicles', 1)],
    ['real TEM (EMPS 9fac661e24)', realTile('9fac661e24.png')],
  ],
  [
    ['synthetic HAADF nanorods #0', synthTile('haadf-nanorods', 0)],
    ['synthetic HAADF nanorods #1', synthTile('haadf-nanorods', 1)],
    ['real bright-field rods (EMPS 59424b060a)', realTile('59424b060a.png')],
  ],
];
const composites: OverlayOptions[] = [];
for (let r = 0; r < rows.length; r++) {
  for (let c = 0; c < rows[r].length; c++) {
    const [text, tile] = rows[r][c];
    composites.push({ input: await tile, left: c * (TILE + 4), top: r * (TILE + 4) });
    composites.push({ input: label(text), left: c * (TILE + 4), top: r * (TILE + 4) + TILE - 26 });
  }
}
const out = join(repoRoot, 'docs', 'synthetic-contact-sheet.png');
await sharp({ create: { width: 3 * TILE + 8, height: 2 * TILE + 4, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(out);
console.log(`wrote ${out}`);
