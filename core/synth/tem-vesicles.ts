import { invalidArgument } from '../errors.ts';
import { gaussianBlur, gaussianSource, poisson, smoothTexture, toUint16 } from './noise.ts';
import { type Stamp, addProfile, occupy, overlaps, rasterise, stampArea, stampRle } from './stamp.ts';
import type { CategorySpec, CountRange, SynthImage, SynthObject } from './types.ts';

/**
 * Synthetic bright-field TEM of vesicles, after the seed study's data: `large_vesicle` (large, light
 * interior, thin dark membrane: LOW contrast, the hard class), `small_vesicle` (small and dark) and
 * `hole` (small bright circles in the support film). Image formation: scene contrast on a textured,
 * unevenly illuminated background, defocus blur, then shot noise at a random dose.
 * Sizes are given for a 512-px field of view of 512 nm and scale with `size`, so the default scene
 * looks the same at any size (the pixel size changes instead).
 */

export const TEM_CATEGORIES: readonly CategorySpec[] = [
  { id: 1, name: 'large_vesicle' },
  { id: 2, name: 'small_vesicle' },
  { id: 3, name: 'hole' },
];

export interface TemVesicleOptions {
  /** Image width and height in pixels. */
  size: number;
  /** Objects per image, per category name; defaults about 30 / 120 / 30. */
  counts?: Partial<Record<'large_vesicle' | 'small_vesicle' | 'hole', CountRange>>;
}

export const DEFAULT_TEM_COUNTS = { large_vesicle: [26, 34], small_vesicle: [105, 135], hole: [26, 34] } as const;

const FIELD_OF_VIEW_NM = 512;

interface VesicleLook {
  radius: readonly [number, number];
  interior: readonly [number, number];
  rim: readonly [number, number];
  rimSigma: readonly [number, number];
  /** Dark Fresnel fringe just outside the edge (holes). */
  fringe: number;
  wobble: number;
}

const LOOKS: Record<'large_vesicle' | 'small_vesicle' | 'hole', VesicleLook> = {
  large_vesicle: { radius: [17, 32], interior: [0.03, 0.07], rim: [-0.12, -0.06], rimSigma: [1.0, 1.6], fringe: 0, wobble: 0.05 },
  small_vesicle: { radius: [4, 8], interior: [-0.32, -0.16], rim: [-0.12, -0.05], rimSigma: [0.7, 1.0], fringe: 0, wobble: 0.04 },
  hole: { radius: [3, 6.5], interior: [0.25, 0.4], rim: [0, 0], rimSigma: [1, 1], fringe: -0.06, wobble: 0.02 },
};

const uniform = (rand: () => number, [lo, hi]: readonly [number, number]) => lo + (hi - lo) * rand();
export const drawCount = (rand: () => number, [lo, hi]: CountRange) => lo + Math.floor(rand() * (hi - lo + 1));

function checkCounts(counts: Record<string, CountRange>): void {
  for (const [name, r] of Object.entries(counts)) {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => Number.isInteger(v) && v >= 0) || r[0] > r[1]) {
      throw invalidArgument(`counts.${name}`, '[min, max] non-negative integers with min <= max', r);
    }
  }
}

/** A slightly irregular ellipse with a smooth interior profile, a membrane rim and an optional fringe. */
function vesicleStamp(rand: () => number, look: VesicleLook, scale: number, size: number): Stamp | null {
  const r = uniform(rand, look.radius) * scale;
  const ecc = 1 + 0.25 * rand();
  const rx = r * ecc, ry = r / ecc;
  const phi = rand() * Math.PI;
  const harmonics = [2, 3, 4].map((k) => ({ k, a: look.wobble * (rand() * 2 - 1), p: rand() * 2 * Math.PI }));
  const interior = uniform(rand, look.interior);
  const rim = uniform(rand, look.rim);
  const rimSigma = uniform(rand, look.rimSigma) * Math.max(scale, 0.5);
  const reach = Math.max(rx, ry) * (1 + 3 * look.wobble) + 3 * rimSigma + 3;
  const cx = reach + rand() * (size - 2 * reach);
  const cy = reach + rand() * (size - 2 * reach);
  const c = Math.cos(phi), s = Math.sin(phi);
  const rMean = Math.sqrt(rx * ry);
  return rasterise(cx, cy, reach, size, size, (dx, dy) => {
    const u = (dx * c + dy * s) / rx;
    const v = (-dx * s + dy * c) / ry;
    const rho = Math.hypot(u, v);
    const theta = Math.atan2(v, u);
    let b = 1;
    for (const h of harmonics) b += h.a * Math.cos(h.k * theta + h.p);
    const sNorm = rho / b;
    const d = (sNorm - 1) * rMean; // signed distance to the edge in pixels (approximately)
    let value = rim * Math.exp(-(d * d) / (2 * rimSigma * rimSigma));
    if (sNorm <= 1) value += interior * (1 - 0.35 * sNorm * sNorm);
    else if (look.fringe) value += look.fringe * Math.exp(-((d - 1.2) ** 2) / 1.5);
    return { inside: sNorm <= 1, value };
  });
}

export function generateTemVesicles(rand: () => number, options: TemVesicleOptions): SynthImage {
  const { size } = options;
  if (!Number.isInteger(size) || size < 64 || size > 8192) throw invalidArgument('size', 'an integer from 64 to 8192', size);
  const counts = { ...DEFAULT_TEM_COUNTS, ...options.counts };
  checkCounts(counts);
  const gauss = gaussianSource(rand);
  const scale = size / 512;
  const n = size * size;
  const contrast = new Float64Array(n);
  const occupied = new Uint8Array(n);
  const objects: SynthObject[] = [];
  // Large objects first: they are hardest to fit.
  for (const name of ['large_vesicle', 'hole', 'small_vesicle'] as const) {
    const want = drawCount(rand, counts[name]);
    const categoryId = TEM_CATEGORIES.find((c) => c.name === name)!.id;
    let placed = 0;
    for (let attempt = 0; placed < want && attempt < want * 60; attempt++) {
      const stamp = vesicleStamp(rand, LOOKS[name], scale, size);
      if (!stamp || stampArea(stamp) < 4 || overlaps(stamp, occupied, size)) continue;
      occupy(stamp, occupied, size);
      addProfile(stamp, contrast, size);
      objects.push({ categoryId, rle: stampRle(stamp, size, size) });
      placed++;
    }
  }
  // Background: support-film texture at two scales and uneven illumination.
  const fine = smoothTexture(size, size, 1.5 * scale, gauss);
  const coarse = smoothTexture(size, size, 12 * scale, gauss);
  const gx = (rand() - 0.5) * 0.2, gy = (rand() - 0.5) * 0.2;
  const bumpX = rand() * size, bumpY = rand() * size, bumpR = (0.4 + 0.4 * rand()) * size, bumpA = 0.1 * (rand() - 0.3);
  const img = new Float64Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const illum = 1 + gx * (x / size - 0.5) + gy * (y / size - 0.5) + bumpA * Math.exp(-((x - bumpX) ** 2 + (y - bumpY) ** 2) / (2 * bumpR * bumpR));
      img[i] = illum * (1 + contrast[i] + 0.02 * fine[i] + 0.03 * coarse[i]);
    }
  }
  gaussianBlur(img, size, size, (0.7 + 0.8 * rand()) * Math.max(scale, 0.5));
  const dose = 250 + 350 * rand();
  const gain = 20;
  for (let i = 0; i < n; i++) img[i] = 100 + gain * poisson(Math.max(img[i], 0) * dose, rand, gauss);
  return { width: size, height: size, pixelSizeNm: FIELD_OF_VIEW_NM / size, data: toUint16(img), objects };
}
