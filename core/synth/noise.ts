/**
 * Seeded noise and filtering for synthetic micrographs. Everything takes the PRNG explicitly, so a
 * seed fixes every pixel.
 */

/** Standard normal variates (Box-Muller), one per call. */
export function gaussianSource(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Poisson variate with mean `lambda`: Knuth's product method below 30, a normal approximation with
 * continuity correction above (shot noise at EM doses is in the hundreds, where it is exact enough).
 */
export function poisson(lambda: number, rand: () => number, gauss: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= rand();
    } while (p > l);
    return k - 1;
  }
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gauss()));
}

/** In-place separable Gaussian blur of a row-major float image (edges clamped). */
export function gaussianBlur(img: Float64Array, width: number, height: number, sigma: number): void {
  if (sigma <= 0) return;
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const tmp = new Float64Array(Math.max(width, height));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = x + k < 0 ? 0 : x + k >= width ? width - 1 : x + k;
        acc += kernel[k + radius] * img[row + xx];
      }
      tmp[x] = acc;
    }
    img.set(tmp.subarray(0, width), row);
  }
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = y + k < 0 ? 0 : y + k >= height ? height - 1 : y + k;
        acc += kernel[k + radius] * img[yy * width + x];
      }
      tmp[y] = acc;
    }
    for (let y = 0; y < height; y++) img[y * width + x] = tmp[y];
  }
}

/** Smooth random texture in about [-1, 1]: white noise blurred at `sigma`, rescaled to unit std. */
export function smoothTexture(width: number, height: number, sigma: number, gauss: () => number): Float64Array {
  const t = Float64Array.from({ length: width * height }, () => gauss());
  gaussianBlur(t, width, height, sigma);
  let ss = 0;
  for (let i = 0; i < t.length; i++) ss += t[i] * t[i];
  const std = Math.sqrt(ss / t.length) || 1;
  for (let i = 0; i < t.length; i++) t[i] /= std;
  return t;
}

/** Clamp and round a float image into uint16. */
export function toUint16(img: Float64Array): Uint16Array {
  const out = new Uint16Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = Math.round(img[i]);
    out[i] = v < 0 ? 0 : v > 65535 ? 65535 : v;
  }
  return out;
}
