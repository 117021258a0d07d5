import { invalidArgument } from '../errors.ts';
import type { BoxXYWH } from '../geometry/types.ts';
import { type Rle, encodeMaskInBox } from '../mask/rle.ts';

/**
 * The traditional floor every learned model is compared with on real data: what a Fiji user does to
 * count particles (Gaussian blur, Otsu threshold, fill holes, distance-transform watershed, size
 * filter). Written here rather than taken from an image library so that `core/` stays runtime-free
 * and dependency-free (the browser SDK reuses it); each step is a textbook algorithm, cited inline.
 */
export interface OtsuWatershedOptions {
  /** Gaussian blur before thresholding, in pixels (0: none). Default 1. */
  sigma?: number;
  /** Which side of the threshold is foreground; 'auto': the side the image border is NOT on. */
  foreground?: 'auto' | 'dark' | 'bright';
  /** Fill background regions that do not touch the border (hollow particles). Default true. */
  fillHoles?: boolean;
  /** Minimum height (px of distance) of a distance-map maximum to seed its own object (Fiji: 0.5). Default 1. */
  h?: number;
  /** Drop objects smaller than this many pixels. Default 10. */
  minArea?: number;
}

export interface ClassicalInstance {
  /** COCO RLE of the object's pixels. */
  mask: Rle;
  bbox: BoxXYWH;
  area: number;
  /** Mean distance of the object's (normalised) intensities from the threshold, in [0, 1]: a ranking for AP. */
  score: number;
}

/**
 * Objects of a normalised image (`data` row-major in [0, 1], e.g. `normalizeImage`'s output).
 * Returns the label image (0 = background, 1..n objects) and the objects.
 */
export function otsuWatershed(data: Float32Array, width: number, height: number, o: OtsuWatershedOptions = {}): { threshold: number; labels: Int32Array; instances: ClassicalInstance[] } {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || data.length !== width * height) {
    throw invalidArgument('image', `width * height = data.length with positive integer sizes`, [width, height, data.length]);
  }
  const sigma = o.sigma ?? 1, h = o.h ?? 1, minArea = o.minArea ?? 10;
  const smooth = sigma > 0 ? gaussianBlur(data, width, height, sigma) : data;
  const threshold = otsuThreshold(smooth);
  const fg = new Uint8Array(width * height);
  const bright = (o.foreground ?? 'auto') === 'auto' ? !borderIsBright(smooth, width, height, threshold) : o.foreground === 'bright';
  for (let i = 0; i < fg.length; i++) fg[i] = (bright ? smooth[i] > threshold : smooth[i] <= threshold) ? 1 : 0;
  if (o.fillHoles ?? true) fillHoles(fg, width, height);
  const dist = euclideanDistanceTransform(fg, width, height);
  const labels = watershedFromMaxima(dist, fg, width, height, h);
  const instances = labelsToInstances(labels, smooth, width, height, threshold, minArea);
  return { threshold, labels, instances };
}

/** Otsu's threshold (1979) of values in [0, 1] on a 256-bin histogram: maximises the between-class variance. */
export function otsuThreshold(data: ArrayLike<number>, bins = 256): number {
  const hist = new Float64Array(bins);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    hist[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]++;
    n++;
  }
  if (n === 0) return 0.5;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * hist[b];
  // Every cut inside an empty gap between the modes ties: take the middle of the tying run of bins.
  let w0 = 0, sum0 = 0, best = -1, bestBin = 0, lastBest = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const w1 = n - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0, m1 = (sumAll - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > best * (1 + 1e-12)) {
      best = between;
      bestBin = lastBest = b;
    } else if (between >= best * (1 - 1e-12) && lastBest === b - 1) {
      lastBest = b;
    }
  }
  // Values in bins 0..bestBin are the lower class: the threshold is that bin's upper edge.
  return (Math.floor((bestBin + lastBest) / 2) + 1) / bins;
}

/** Separable Gaussian blur (kernel radius 3 sigma, edges clamped). */
export function gaussianBlur(data: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const tmp = new Float32Array(data.length), out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * data[y * width + Math.min(width - 1, Math.max(0, x + i))];
      tmp[y * width + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x];
      out[y * width + x] = acc;
    }
  }
  return out;
}

function borderIsBright(data: Float32Array, width: number, height: number, threshold: number): boolean {
  let above = 0, n = 0;
  const count = (i: number): void => {
    n++;
    if (data[i] > threshold) above++;
  };
  for (let x = 0; x < width; x++) {
    count(x);
    if (height > 1) count((height - 1) * width + x);
  }
  for (let y = 1; y < height - 1; y++) {
    count(y * width);
    if (width > 1) count(y * width + width - 1);
  }
  return above * 2 > n;
}

/** Background components (4-connected) that do not touch the border become foreground. */
export function fillHoles(fg: Uint8Array, width: number, height: number): void {
  const outside = new Uint8Array(fg.length);
  const stack: number[] = [];
  const push = (i: number): void => {
    if (!fg[i] && !outside[i]) {
      outside[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < width; x++) {
    push(x);
    push((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    push(y * width);
    push(y * width + width - 1);
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % width, y = (i - x) / width;
    if (x > 0) push(i - 1);
    if (x < width - 1) push(i + 1);
    if (y > 0) push(i - width);
    if (y < height - 1) push(i + width);
  }
  for (let i = 0; i < fg.length; i++) if (!fg[i] && !outside[i]) fg[i] = 1;
}

/**
 * Exact Euclidean distance of every foreground pixel to the nearest background pixel (0 on the
 * background), by Felzenszwalb & Huttenlocher's separable lower-envelope algorithm (2012), O(n).
 * Beyond the image border counts as foreground (a particle cut by the edge is not split there).
 */
export function euclideanDistanceTransform(fg: Uint8Array, width: number, height: number): Float32Array {
  const INF = 1e20;
  const d2 = new Float64Array(width * height);
  for (let i = 0; i < d2.length; i++) d2[i] = fg[i] ? INF : 0;
  const n = Math.max(width, height);
  const f = new Float64Array(n), out = new Float64Array(n), v = new Int32Array(n), z = new Float64Array(n + 1);
  const pass = (len: number, get: (i: number) => number, set: (i: number, x: number) => void): void => {
    for (let i = 0; i < len; i++) f[i] = get(i);
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < len; q++) {
      let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) {
        k--;
        s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < len; q++) {
      while (z[k + 1] < q) k++;
      out[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
    }
    for (let i = 0; i < len; i++) set(i, out[i]);
  };
  for (let x = 0; x < width; x++) pass(height, (y) => d2[y * width + x], (y, val) => (d2[y * width + x] = val));
  for (let y = 0; y < height; y++) pass(width, (x) => d2[y * width + x], (x, val) => (d2[y * width + x] = val));
  const d = new Float32Array(d2.length);
  // A whole-foreground image has no background: distance = the image's size (bounded, never 1e10).
  for (let i = 0; i < d.length; i++) d[i] = d2[i] >= INF ? n : Math.sqrt(d2[i]);
  return d;
}

/** A binary min-heap of pixel indices keyed by a priority, ties broken by insertion order (deterministic). */
class PixelHeap {
  private keys: number[] = [];
  private order: number[] = [];
  private items: number[] = [];
  private counter = 0;
  get size(): number {
    return this.items.length;
  }
  push(item: number, key: number): void {
    this.keys.push(key);
    this.order.push(this.counter++);
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): number {
    const top = this.items[0];
    const last = this.items.length - 1;
    this.swap(0, last);
    this.keys.pop();
    this.order.pop();
    this.items.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(l, m)) m = l;
      if (r < this.items.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.order[a] < this.order[b]);
  }
  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.order[a], this.order[b]] = [this.order[b], this.order[a]];
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
  }
}

function neighbours8(i: number, width: number, height: number, visit: (n: number) => void): void {
  const x = i % width, y = (i - x) / width;
  for (let dy = -1; dy <= 1; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= height) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) continue;
      visit(yy * width + xx);
    }
  }
}

/**
 * Seeded watershed of the distance map inside the foreground: seeds are the h-maxima (regional maxima
 * of the reconstruction by dilation of dist - h under dist; Vincent 1993), so two touching round
 * particles whose neck is at least h px narrower than either centre get a seed each; every other
 * foreground pixel floods from the seeds in order of decreasing distance (Meyer's priority flood).
 */
export function watershedFromMaxima(dist: Float32Array, fg: Uint8Array, width: number, height: number, h: number): Int32Array {
  const N = width * height;
  // Reconstruction by dilation of marker = dist - h under mask = dist: priority flood from the top.
  const rec = new Float32Array(N);
  for (let i = 0; i < N; i++) rec[i] = fg[i] ? Math.max(0, dist[i] - h) : 0;
  const heap = new PixelHeap();
  for (let i = 0; i < N; i++) if (fg[i]) heap.push(i, -rec[i]);
  const done = new Uint8Array(N);
  while (heap.size > 0) {
    const i = heap.pop();
    if (done[i]) continue;
    done[i] = 1;
    neighbours8(i, width, height, (n) => {
      if (!fg[n] || done[n]) return;
      const v = Math.min(dist[n], rec[i]);
      if (v > rec[n]) {
        rec[n] = v;
        heap.push(n, -v);
      }
    });
  }
  // Regional maxima of rec: plateaus (equal value, 8-connected) with no higher neighbour.
  const labels = new Int32Array(N);
  const seen = new Uint8Array(N);
  let next = 0;
  const plateau: number[] = [];
  for (let i = 0; i < N; i++) {
    if (!fg[i] || seen[i]) continue;
    plateau.length = 0;
    plateau.push(i);
    seen[i] = 1;
    let isMax = true;
    for (let k = 0; k < plateau.length; k++) {
      neighbours8(plateau[k], width, height, (n) => {
        if (!fg[n]) return;
        if (rec[n] > rec[i]) isMax = false;
        else if (rec[n] === rec[i] && !seen[n]) {
          seen[n] = 1;
          plateau.push(n);
        }
      });
    }
    if (isMax) {
      next++;
      for (const p of plateau) labels[p] = next;
    }
  }
  // Flood from the seeds, highest distance first.
  const flood = new PixelHeap();
  for (let i = 0; i < N; i++) if (labels[i] > 0) flood.push(i, -dist[i]);
  while (flood.size > 0) {
    const i = flood.pop();
    neighbours8(i, width, height, (n) => {
      if (!fg[n] || labels[n] !== 0) return;
      labels[n] = labels[i];
      flood.push(n, -dist[n]);
    });
  }
  return labels;
}

function labelsToInstances(labels: Int32Array, data: Float32Array, width: number, height: number, threshold: number, minArea: number): ClassicalInstance[] {
  let count = 0;
  for (let i = 0; i < labels.length; i++) count = Math.max(count, labels[i]);
  const x0 = new Int32Array(count + 1).fill(width), y0 = new Int32Array(count + 1).fill(height);
  const x1 = new Int32Array(count + 1).fill(-1), y1 = new Int32Array(count + 1).fill(-1);
  const area = new Float64Array(count + 1), contrast = new Float64Array(count + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x, l = labels[i];
      if (l === 0) continue;
      area[l]++;
      contrast[l] += Math.abs(data[i] - threshold);
      if (x < x0[l]) x0[l] = x;
      if (y < y0[l]) y0[l] = y;
      if (x > x1[l]) x1[l] = x;
      if (y > y1[l]) y1[l] = y;
    }
  }
  const out: ClassicalInstance[] = [];
  for (let l = 1; l <= count; l++) {
    if (area[l] < minArea) continue;
    const bw = x1[l] - x0[l] + 1, bh = y1[l] - y0[l] + 1;
    const local = new Uint8Array(bw * bh);
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) local[y * bw + x] = labels[(y + y0[l]) * width + x + x0[l]] === l ? 1 : 0;
    out.push({
      mask: encodeMaskInBox(local, x0[l], y0[l], bw, bh, height, width),
      bbox: [x0[l], y0[l], bw, bh],
      area: area[l],
      score: Math.min(1, contrast[l] / area[l] / Math.max(threshold, 1 - threshold)),
    });
  }
  return out;
}
