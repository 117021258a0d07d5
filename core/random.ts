/**
 * Seeded PRNG (mulberry32): 32-bit state, uniform floats in [0, 1). Same seed, same sequence on any
 * machine and runtime, which is what reproducible synthetic data, splits and augmentation need;
 * `Math.random` cannot be seeded.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
