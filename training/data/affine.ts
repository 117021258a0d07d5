import { canonicalRotatedBox } from '../../core/geometry/rotated-box.ts';
import type { MaskCrop } from './instances.ts';

/**
 * Free rotation, scale jitter and crop as ONE affine warp of the image onto a canvas of its own size
 * (one resampling, not three). Continuous coordinates with pixel centres at +0.5, y down; the angle
 * is counter-clockwise as displayed, like the rotated boxes, so a box's angle simply gains `angle`.
 *
 *   out = scale * R(angle) * (in - centre) + centre + shift,  R(a) = [[cos a, sin a], [-sin a, cos a]]
 *
 * `shift` is the crop: zoomed in (scale > 1) the canvas is a random window of the enlarged image;
 * zoomed out, the smaller image lands at a random place on the canvas. Canvas pixels no input pixel
 * covers get `fill` (the image's median: a constant edge is less unnatural than mirrored content, and
 * mirrored objects would be unannotated).
 */
export interface AffineWarp {
  /** Counter-clockwise degrees. */
  angle: number;
  scale: number;
  shiftX: number;
  shiftY: number;
  width: number;
  height: number;
}

export interface WarpOptions {
  /** Largest |angle| of the free rotation in degrees (0 = none, 180 = any angle). */
  rotate: number;
  /** Scale jitter: the scale is log-uniform in [1 / (1 + s), 1 + s] (0 = none). */
  scale: number;
  /** Probability that an image is warped at all (unwarped images keep the exact pixel grid). */
  probability: number;
}

export function warpEnabled(o: WarpOptions): boolean {
  return o.probability > 0 && (o.rotate > 0 || o.scale > 0);
}

/** Draw a warp, or null for "leave the image as it is". Draws nothing when warping is disabled. */
export function drawWarp(rand: () => number, width: number, height: number, o: WarpOptions): AffineWarp | null {
  if (!warpEnabled(o)) return null;
  const apply = rand() < o.probability;
  const angle = (2 * rand() - 1) * o.rotate;
  const scale = Math.exp((2 * rand() - 1) * Math.log(1 + o.scale));
  const shiftX = (2 * rand() - 1) * (Math.abs(scale - 1) * width) / 2;
  const shiftY = (2 * rand() - 1) * (Math.abs(scale - 1) * height) / 2;
  return apply ? { angle, scale, shiftX, shiftY, width, height } : null;
}

interface Matrix {
  /** Forward: out = [a b; c d] (in - centre) + centre + shift. */
  a: number;
  b: number;
  c: number;
  d: number;
  cx: number;
  cy: number;
  tx: number;
  ty: number;
}

function matrix(w: AffineWarp): Matrix {
  const t = (w.angle * Math.PI) / 180;
  const cos = Math.cos(t) * w.scale, sin = Math.sin(t) * w.scale;
  return { a: cos, b: sin, c: -sin, d: cos, cx: w.width / 2, cy: w.height / 2, tx: w.width / 2 + w.shiftX, ty: w.height / 2 + w.shiftY };
}

function forward(m: Matrix, x: number, y: number): [number, number] {
  const dx = x - m.cx, dy = y - m.cy;
  return [m.a * dx + m.b * dy + m.tx, m.c * dx + m.d * dy + m.ty];
}

/** The inverse map as a function of the output point (a rotation-scale's inverse is its transpose / scale^2). */
function inverse(m: Matrix): (x: number, y: number) => [number, number] {
  const s2 = m.a * m.a + m.b * m.b;
  const ia = m.a / s2, ib = m.c / s2, ic = m.b / s2, id = m.d / s2;
  return (x, y) => {
    const dx = x - m.tx, dy = y - m.ty;
    return [ia * dx + ib * dy + m.cx, ic * dx + id * dy + m.cy];
  };
}

/** Median of up to 4096 evenly spaced pixels (the fill value). */
function approximateMedian(img: Float32Array): number {
  const step = Math.max(1, Math.floor(img.length / 4096));
  const sample: number[] = [];
  for (let i = 0; i < img.length; i += step) sample.push(img[i]);
  sample.sort((p, q) => p - q);
  return sample[sample.length >> 1] ?? 0;
}

/** Bilinear resampling of a row-major float image under the warp (output has the input's size). */
export function warpImage(img: Float32Array, w: AffineWarp): Float32Array {
  const { width: W, height: H } = w;
  const inv = inverse(matrix(w));
  const fill = approximateMedian(img);
  const out = new Float32Array(W * H);
  const px = (i: number, j: number) => (i >= 0 && j >= 0 && i < W && j < H ? img[j * W + i] : fill);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [sx, sy] = inv(x + 0.5, y + 0.5);
      const u = sx - 0.5, v = sy - 0.5;
      if (u < -1 || v < -1 || u > W || v > H) {
        out[y * W + x] = fill;
        continue;
      }
      const u0 = Math.floor(u), v0 = Math.floor(v);
      const fu = u - u0, fv = v - v0;
      out[y * W + x] = (1 - fv) * ((1 - fu) * px(u0, v0) + fu * px(u0 + 1, v0)) + fv * ((1 - fu) * px(u0, v0 + 1) + fu * px(u0 + 1, v0 + 1));
    }
  }
  return out;
}

/**
 * Rotated boxes (5 per object) under the warp, with the indices of the objects kept: those whose
 * centre stays on the canvas (a box cut by the edge keeps its full extent, as a partly visible rod's
 * annotation would).
 */
export function warpRboxes(rboxes: Float32Array, w: AffineWarp): { rboxes: Float32Array; kept: number[] } {
  const m = matrix(w);
  const out: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < rboxes.length / 5; i++) {
    const [x, y] = forward(m, rboxes[5 * i], rboxes[5 * i + 1]);
    if (!(x >= 0 && y >= 0 && x < w.width && y < w.height)) continue;
    out.push(...canonicalRotatedBox([x, y, rboxes[5 * i + 2] * w.scale, rboxes[5 * i + 3] * w.scale, rboxes[5 * i + 4] + w.angle]));
    kept.push(i);
  }
  return { rboxes: Float32Array.from(out), kept };
}

/**
 * One object's mask crop under the warp, clipped to the canvas and tightened to its pixels; null when
 * fewer than `minPixels` remain visible. Bilinear, then >= 0.5 (not nearest neighbour, whose
 * half-pixel boundary jitter against the bilinearly warped image would blur the boundary the mask
 * head is trained to place).
 */
export function warpMaskCrop(c: MaskCrop, w: AffineWarp, minPixels = 4): MaskCrop | null {
  const m = matrix(w);
  const inv = inverse(m);
  const corners = [forward(m, c.x0, c.y0), forward(m, c.x0 + c.w, c.y0), forward(m, c.x0, c.y0 + c.h), forward(m, c.x0 + c.w, c.y0 + c.h)];
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0])))), x1 = Math.min(w.width, Math.ceil(Math.max(...corners.map((p) => p[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1])))), y1 = Math.min(w.height, Math.ceil(Math.max(...corners.map((p) => p[1]))));
  if (x1 <= x0 || y1 <= y0) return null;
  const bw = x1 - x0, bh = y1 - y0;
  const data = new Uint8Array(bw * bh);
  const px = (i: number, j: number) => (i >= 0 && j >= 0 && i < c.w && j < c.h ? c.data[j * c.w + i] : 0);
  let minX = bw, minY = bh, maxX = -1, maxY = -1, count = 0;
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const [sx, sy] = inv(x0 + x + 0.5, y0 + y + 0.5);
      const u = sx - 0.5 - c.x0, v = sy - 0.5 - c.y0;
      const i = Math.floor(u), j = Math.floor(v);
      if (i < -1 || j < -1 || i >= c.w || j >= c.h) continue;
      const fu = u - i, fv = v - j;
      const value = (1 - fv) * ((1 - fu) * px(i, j) + fu * px(i + 1, j)) + fv * ((1 - fu) * px(i, j + 1) + fu * px(i + 1, j + 1));
      if (value < 0.5) continue;
      data[y * bw + x] = 1;
      count++;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (count < minPixels) return null;
  const tw = maxX - minX + 1, th = maxY - minY + 1;
  const tight = new Uint8Array(tw * th);
  for (let y = 0; y < th; y++) tight.set(data.subarray((minY + y) * bw + minX, (minY + y) * bw + minX + tw), y * tw);
  return { x0: x0 + minX, y0: y0 + minY, w: tw, h: th, data: tight };
}
