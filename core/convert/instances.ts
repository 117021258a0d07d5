import { invalidArgument } from '../errors.ts';
import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';
import { maskMinAreaRect } from '../mask/mask-rbox.ts';
import { type Rle, encodeMaskInBox } from '../mask/rle.ts';

/** One object found in a label image or a binary mask. */
export interface MaskInstance {
  /** Instance id in the label map (or component number). */
  label: number;
  rle: Rle;
  bbox: BoxXYWH;
  area: number;
  rbox?: RotatedBox;
}

export interface InstanceOptions {
  /** Drop instances smaller than this many pixels (default 1). */
  minArea?: number;
  /** Also fit each instance's minimum-area rotated rectangle (for rods). */
  rbox?: boolean;
}

/**
 * Split an instance-id label image (row-major; 0 = background, k > 0 = instance k, as EMPS segmaps)
 * into per-instance RLE masks with tight boxes. Two passes: bounding boxes of every id, then each
 * mask encoded from its box only, so cost is O(pixels + sum of box areas).
 */
export function labelMapToInstances(labels: ArrayLike<number>, width: number, height: number, options: InstanceOptions = {}): MaskInstance[] {
  if (labels.length !== width * height) throw invalidArgument('label image length', `width * height = ${width * height}`, labels.length);
  const minArea = options.minArea ?? 1;
  const boxes = new Map<number, { x0: number; y0: number; x1: number; y1: number; area: number }>();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = labels[y * width + x];
      if (k === 0) continue;
      const b = boxes.get(k);
      if (!b) boxes.set(k, { x0: x, y0: y, x1: x, y1: y, area: 1 });
      else {
        if (x < b.x0) b.x0 = x;
        if (x > b.x1) b.x1 = x;
        if (y > b.y1) b.y1 = y;
        b.area++;
      }
    }
  }
  const out: MaskInstance[] = [];
  for (const [label, b] of [...boxes].sort((p, q) => p[0] - q[0])) {
    if (b.area < minArea) continue;
    const bw = b.x1 - b.x0 + 1, bh = b.y1 - b.y0 + 1;
    const local = new Uint8Array(bw * bh);
    for (let j = 0; j < bh; j++) {
      for (let i = 0; i < bw; i++) if (labels[(b.y0 + j) * width + b.x0 + i] === label) local[j * bw + i] = 1;
    }
    const inst: MaskInstance = {
      label,
      rle: encodeMaskInBox(local, b.x0, b.y0, bw, bh, height, width),
      bbox: [b.x0, b.y0, bw, bh],
      area: b.area,
    };
    if (options.rbox) {
      const [cx, cy, w, h, a] = maskMinAreaRect(local, bh, bw);
      inst.rbox = [cx + b.x0, cy + b.y0, w, h, a];
    }
    out.push(inst);
  }
  return out;
}

/**
 * Label the connected components of a binary mask (any non-zero pixel is foreground; 8-connectivity,
 * so diagonal touches join as in `maskToContours`). Returns a row-major Int32Array label image with
 * components numbered 1..n in raster order of their first pixel. Union-find in two passes.
 */
export function connectedComponents(mask: ArrayLike<number>, width: number, height: number): { labels: Int32Array; count: number } {
  if (mask.length !== width * height) throw invalidArgument('mask length', `width * height = ${width * height}`, mask.length);
  const labels = new Int32Array(width * height);
  const parent: number[] = [0];
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a), rb = find(b);
    if (ra === rb) return ra;
    const [lo, hi] = ra < rb ? [ra, rb] : [rb, ra];
    parent[hi] = lo;
    return lo;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      let l = 0;
      // Already-visited 8-neighbours: W, NW, N, NE.
      const neighbours = [x > 0 ? i - 1 : -1, x > 0 && y > 0 ? i - width - 1 : -1, y > 0 ? i - width : -1, y > 0 && x < width - 1 ? i - width + 1 : -1];
      for (const n of neighbours) {
        if (n < 0 || labels[n] === 0) continue;
        l = l === 0 ? labels[n] : union(l, labels[n]);
      }
      if (l === 0) {
        l = parent.length;
        parent.push(l);
      }
      labels[i] = l;
    }
  }
  // Renumber roots 1..n in order of first appearance.
  const final = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 0) continue;
    const r = find(labels[i]);
    let f = final.get(r);
    if (f === undefined) {
      f = final.size + 1;
      final.set(r, f);
    }
    labels[i] = f;
  }
  return { labels, count: final.size };
}
