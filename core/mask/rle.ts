import { EmsegError, invalidArgument } from '../errors.ts';
import type { BoxXYWH } from '../geometry/types.ts';

/**
 * A binary mask as COCO run-length encoding: alternating run lengths of 0s and 1s (starting with
 * 0s, so a mask whose first pixel is set starts with a 0-length run), pixels visited in column-major
 * (Fortran) order, as pycocotools stores them. Runs are canonical: no zero-length run but the first.
 */
export interface Rle {
  readonly height: number;
  readonly width: number;
  readonly counts: Uint32Array;
}

function checkSize(height: number, width: number): void {
  if (!Number.isInteger(height) || height < 0 || !Number.isInteger(width) || width < 0) {
    throw invalidArgument('mask size', 'non-negative integer height and width', [height, width]);
  }
}

/**
 * Encode a row-major mask (`mask[y * width + x]`, any non-zero value is foreground) to RLE.
 * The traversal is column-major, as COCO requires.
 */
export function encodeMask(mask: ArrayLike<number>, height: number, width: number): Rle {
  checkSize(height, width);
  if (mask.length !== height * width) {
    throw invalidArgument('mask length', `height * width = ${height * width}`, mask.length);
  }
  const runs: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0, i = x; y < height; y++, i += width) {
      const v = mask[i] ? 1 : 0;
      if (v !== prev) {
        runs.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  runs.push(run);
  return { height, width, counts: Uint32Array.from(runs) };
}

/** Decode to a row-major `Uint8Array` of 0/1 (`mask[y * width + x]`). */
export function decodeRle(rle: Rle): Uint8Array {
  const { height, width, counts } = rle;
  const out = new Uint8Array(height * width);
  let pos = 0;
  let v = 0;
  for (let j = 0; j < counts.length; j++) {
    const end = pos + counts[j];
    if (v) {
      for (let p = pos; p < end; p++) {
        const x = Math.floor(p / height);
        out[(p - x * height) * width + x] = 1;
      }
    }
    pos = end;
    v ^= 1;
  }
  return out;
}

/** Number of foreground pixels. */
export function rleArea(rle: Rle): number {
  let a = 0;
  const c = rle.counts;
  for (let j = 1; j < c.length; j += 2) a += c[j];
  return a;
}

/**
 * Tight bounding box `[x, y, w, h]` of the foreground, as pycocotools' `rleToBbox` computes it
 * (including its choice of the full image height when one run spans two columns). All zeros for an
 * empty mask.
 */
export function rleToBbox(rle: Rle): BoxXYWH {
  const { height: h, width: w, counts } = rle;
  const m = counts.length - (counts.length % 2);
  if (m === 0 || h === 0) return [0, 0, 0, 0];
  let xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc += counts[j];
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    if (x < xs) xs = x;
    if (x > xe) xe = x;
    if (y < ys) ys = y;
    if (y > ye) ye = y;
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/**
 * Union (or intersection) of RLEs of one size, with pycocotools' `merge` semantics.
 * Written by hand (no maintained JS library implements COCO RLE); it walks runs, never pixels.
 */
export function rleMerge(rles: readonly Rle[], intersect = false): Rle {
  if (rles.length === 0) return { height: 0, width: 0, counts: new Uint32Array(0) };
  let acc = rles[0];
  for (let i = 1; i < rles.length; i++) {
    const b = rles[i];
    if (b.height !== acc.height || b.width !== acc.width) {
      throw new EmsegError(
        'EMSEG_RLE_INVALID',
        `Cannot merge masks of different sizes: ${acc.height}x${acc.width} and ${b.height}x${b.width}`,
      );
    }
    acc = mergeTwo(acc, b, intersect);
  }
  return acc;
}

function mergeTwo(A: Rle, B: Rle, intersect: boolean): Rle {
  const out: number[] = [];
  const a = A.counts, b = B.counts;
  let ca = a[0] ?? 0, cb = b[0] ?? 0;
  let v = 0, va = 0, vb = 0, ia = 1, ib = 1, cc = 0, ct = 1;
  while (ct > 0) {
    const c = Math.min(ca, cb);
    cc += c;
    ct = 0;
    ca -= c;
    if (!ca && ia < a.length) {
      ca = a[ia++];
      va ^= 1;
    }
    ct += ca;
    cb -= c;
    if (!cb && ib < b.length) {
      cb = b[ib++];
      vb ^= 1;
    }
    ct += cb;
    const vp = v;
    v = intersect ? va & vb : va | vb;
    if (v !== vp || ct === 0) {
      out.push(cc);
      cc = 0;
    }
  }
  return { height: A.height, width: A.width, counts: Uint32Array.from(out) };
}

/** Intersection pixel count of two same-size RLEs (merge walk over runs, no allocation). */
export function rleIntersection(dt: Rle, gt: Rle): number {
  const a = dt.counts, b = gt.counts;
  const ka = a.length, kb = b.length;
  if (ka === 0 || kb === 0) return 0;
  let ca = a[0], cb = b[0], ia = 1, ib = 1, va = 0, vb = 0, inter = 0;
  for (;;) {
    const c = ca < cb ? ca : cb;
    if (va & vb) inter += c;
    ca -= c;
    cb -= c;
    if (ca === 0) {
      if (ia >= ka) break;
      ca = a[ia++];
      va ^= 1;
    }
    if (cb === 0) {
      if (ib >= kb) break;
      cb = b[ib++];
      vb ^= 1;
    }
  }
  return inter;
}

/**
 * IoU of two same-size RLEs; with `crowd`, intersection over the area of `dt` (COCO crowd semantics).
 * 0 when they do not intersect.
 */
export function rleIoU(dt: Rle, gt: Rle, crowd = false): number {
  if (dt.height !== gt.height || dt.width !== gt.width) {
    throw new EmsegError(
      'EMSEG_RLE_INVALID',
      `Cannot compare masks of different sizes: ${dt.height}x${dt.width} and ${gt.height}x${gt.width}`,
    );
  }
  const inter = rleIntersection(dt, gt);
  if (inter === 0) return 0;
  const union = crowd ? rleArea(dt) : rleArea(dt) + rleArea(gt) - inter;
  return inter / union;
}

/** A filled rectangle `[x, y, w, h]` as RLE, rasterised as pycocotools' `frBbox` does. */
export function rleFromBbox(bbox: BoxXYWH, height: number, width: number): Rle {
  const [xs, ys, bw, bh] = bbox;
  const xe = xs + bw, ye = ys + bh;
  return rleFromPolygon([xs, ys, xs, ye, xe, ye, xe, ys], height, width);
}

/**
 * Largest polygon coordinate accepted (pixels). Far beyond any image; it keeps the upsampled
 * integer arithmetic exact (5 x 1e12 < 2^53) and refuses values such as 1e400 (= Infinity in JSON).
 */
export const MAX_POLYGON_COORDINATE = 1e12;

/**
 * Rasterise a polygon `[x0, y0, x1, y1, ...]` exactly as pycocotools' `rleFrPoly` does (same
 * 5x-upsampled boundary walk and C truncation semantics), so areas and IoUs match pycocotools to the
 * pixel. Hand-written because matching pycocotools bit for bit is the point.
 *
 * pycocotools walks every upsampled boundary point, so one vertex at 4e6 on a 10 x 10 image costs
 * tens of millions of points (seconds, gigabytes). Only boundary steps that cross a pixel-column
 * centre inside the image make a run start, so this walk visits just those: the x-major part of an
 * edge is clipped to the image's columns, and in the y-major part each column-centre crossing is found
 * by bisection on the same expression pycocotools evaluates (monotone in t). Work is O(vertices x
 * width x log(edge length)) whatever the coordinates; the runs are identical (tested against the
 * direct walk).
 */
export function rleFromPolygon(xy: ArrayLike<number>, height: number, width: number): Rle {
  checkSize(height, width);
  for (let j = 0; j < xy.length; j++) {
    const c = xy[j];
    if (!Number.isFinite(c) || Math.abs(c) > MAX_POLYGON_COORDINATE) {
      throw invalidArgument(`polygon coordinate ${j}`, `a finite number within +-${MAX_POLYGON_COORDINATE}`, c);
    }
  }
  const h = height, w = width;
  const k = Math.floor(xy.length / 2);
  const scale = 5;
  const x = new Array<number>(k + 1);
  const y = new Array<number>(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[2 * j] + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[2 * j + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  // A step between boundary points with columns ua != ub starts a run when min(ua, ub) = 5m + 2 for a
  // column m of the image (pycocotools: xd = (min + 0.5) / 5 - 0.5 must be an integer in [0, w - 1]);
  // the run starts at the lower of the two rows, downsampled and clamped to [0, h]. Consecutive
  // points of one edge differ by at most 1 in each coordinate; the last point of an edge and the
  // first of the next are the same vertex, so steps never span two edges.
  const starts: number[] = [];
  const addStep = (uMin: number, vMin: number): void => {
    const xd = (uMin + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) return;
    let yd = (vMin + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    starts.push(xd * h + Math.ceil(yd));
  };
  const uLo = 2, uHi = scale * (w - 1) + 2; // the smallest and largest run-starting min(ua, ub)
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      [xs, xe] = [xe, xs];
      [ys, ye] = [ye, ys];
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      // Point t is (xs + t, trunc(ys + s t + 0.5)), t = 0..dx; step (t, t + 1) has min u = xs + t.
      const t0 = Math.max(0, uLo - xs), t1 = Math.min(dx - 1, uHi - xs);
      for (let t = t0; t <= t1; t++) {
        const va = Math.trunc(ys + s * t + 0.5), vb = Math.trunc(ys + s * (t + 1) + 0.5);
        addStep(xs + t, Math.min(va, vb));
      }
    } else if (xs !== xe) {
      // Point t is (trunc(xs + s t + 0.5), ys + t), t = 0..dy, u monotone in t and changing by at
      // most 1 per step: the step leaving column c is found by bisection.
      const u = (t: number): number => Math.trunc(xs + s * t + 0.5);
      const rising = xe > xs;
      const cFirst = Math.max(uLo, Math.min(u(0), u(dy))), cLast = Math.min(uHi, Math.max(u(0), u(dy)) - 1);
      for (let c = cFirst + ((((uLo - cFirst) % scale) + scale) % scale); c <= cLast; c += scale) {
        // Largest t with u(t) <= c (rising) or smallest t with u(t) <= c (falling).
        let lo = 0, hi = dy;
        if (rising) {
          while (lo < hi) {
            const mid = lo + Math.ceil((hi - lo) / 2);
            if (u(mid) <= c) lo = mid;
            else hi = mid - 1;
          }
          if (u(lo) === c && lo < dy && u(lo + 1) === c + 1) addStep(c, ys + lo);
        } else {
          while (lo < hi) {
            const mid = lo + Math.floor((hi - lo) / 2);
            if (u(mid) <= c) hi = mid;
            else lo = mid + 1;
          }
          if (u(lo) === c && lo > 0 && u(lo - 1) === c + 1) addStep(c, ys + lo - 1);
        }
      }
    }
  }
  starts.push(h * w);
  starts.sort((p, q) => p - q);
  let p = 0;
  for (let j = 0; j < starts.length; j++) {
    const t = starts[j];
    starts[j] -= p;
    p = t;
  }
  const runs: number[] = [starts[0]];
  for (let j = 1; j < starts.length; ) {
    if (starts[j] > 0) runs.push(starts[j++]);
    else {
      j++;
      if (j < starts.length) runs[runs.length - 1] += starts[j++];
    }
  }
  return { height: h, width: w, counts: Uint32Array.from(runs) };
}

/**
 * Encode a mask given only inside its box: `local[j * boxWidth + i]` is pixel (x0 + i, y0 + j) of an
 * image `height` x `width`; everything outside the box is background. Costs O(box area), not
 * O(image area), which matters when a synthetic image has hundreds of small objects.
 */
export function encodeMaskInBox(
  local: ArrayLike<number>,
  x0: number,
  y0: number,
  boxWidth: number,
  boxHeight: number,
  height: number,
  width: number,
): Rle {
  checkSize(height, width);
  if (local.length !== boxWidth * boxHeight) throw invalidArgument('local mask length', `boxWidth * boxHeight = ${boxWidth * boxHeight}`, local.length);
  if (x0 < 0 || y0 < 0 || x0 + boxWidth > width || y0 + boxHeight > height) {
    throw invalidArgument('mask box', `a box inside the ${width} x ${height} image`, [x0, y0, boxWidth, boxHeight]);
  }
  const runs: number[] = [];
  let pos = 0; // column-major index where the current background run started
  let inRun = false;
  let runStart = 0;
  for (let i = 0; i < boxWidth; i++) {
    const colBase = (x0 + i) * height + y0;
    for (let j = 0; j < boxHeight; j++) {
      const on = local[j * boxWidth + i] !== 0;
      const p = colBase + j;
      if (on && !inRun) {
        runs.push(p - pos);
        runStart = p;
        inRun = true;
      } else if (!on && inRun) {
        runs.push(p - runStart);
        pos = p;
        inRun = false;
      }
    }
    if (inRun && !(y0 === 0 && boxHeight === height)) {
      // Pixels below the box (or above it in the next column) are background: close the run here.
      const p = colBase + boxHeight;
      runs.push(p - runStart);
      pos = p;
      inRun = false;
    }
  }
  if (inRun) {
    pos = (x0 + boxWidth - 1) * height + y0 + boxHeight;
    runs.push(pos - runStart);
  }
  // Runs alternate 0s/1s and end with whichever value the last pixel has (as `encodeMask`).
  if (pos < height * width || runs.length === 0) runs.push(height * width - pos);
  return { height, width, counts: Uint32Array.from(runs) };
}

/**
 * Decode only the rectangle [x, x + w) x [y, y + h) of an RLE, row-major (`out[(r) * w + c]`):
 * the runs are walked once but only the crop is written, so drawing or tracing one object of a
 * large image costs its box, not the image.
 */
export function decodeRleCrop(rle: Rle, x: number, y: number, w: number, h: number): Uint8Array {
  const { height, counts } = rle;
  const out = new Uint8Array(w * h);
  const first = x * height, last = (x + w) * height; // column-major positions of the crop's columns
  let pos = 0;
  let v = 0;
  for (let j = 0; j < counts.length && pos < last; j++) {
    const end = pos + counts[j];
    if (v && end > first) {
      for (let p = Math.max(pos, first); p < Math.min(end, last); p++) {
        const col = Math.floor(p / height);
        const row = p - col * height;
        if (row >= y && row < y + h) out[(row - y) * w + (col - x)] = 1;
      }
    }
    pos = end;
    v ^= 1;
  }
  return out;
}
