import { convexHull } from '../geometry/min-area-rect.ts';
import { polygonArea } from '../geometry/polygon.ts';
import type { Point, RotatedBox } from '../geometry/types.ts';
import { maskToContours } from '../mask/contours.ts';
import { type Rle, decodeRle, rleArea } from '../mask/rle.ts';

/**
 * Per-object measurements, in nm when the image is calibrated (`pixelSize` nm per pixel, square
 * pixels assumed for lengths; areas use x * y) and in pixels otherwise (`unit` says which).
 * Definitions follow common image-analysis practice (ImageJ, scikit-image regionprops):
 * - area: pixel count x pixel area; equivalent circular diameter: sqrt(4 area / pi);
 * - perimeter: length of the pixel-edge boundary after collapsing staircases to their diagonals
 *   (the crack boundary's corners are cut, which removes the sqrt(2)-fold overestimate of
 *   diagonal edges; holes' boundaries count);
 * - ellipse fit: the ellipse with the same second moments (regionprops' major/minor axis length and
 *   orientation; orientation in degrees counter-clockwise from +x as displayed, in (-90, 90]);
 * - aspect ratio major / minor; circularity 4 pi area / perimeter^2 (1 for a disc, capped at 1);
 *   solidity area / convex-hull area (pixel squares); mean intensity over the mask when an image is given;
 * - rods (objects with an rbox): length = long side, width = short side, angle of the rbox.
 */
export interface ObjectMeasurements {
  unit: 'nm' | 'px';
  area: number;
  equivalentDiameter: number;
  perimeter: number;
  majorAxis: number;
  minorAxis: number;
  orientation: number;
  aspectRatio: number;
  circularity: number;
  solidity: number;
  meanIntensity?: number;
  length?: number;
  width?: number;
  angle?: number;
}

/** Boundary length with staircases collapsed: each corner of the crack boundary is cut by half a pixel. */
function smoothedPerimeter(points: number[]): number {
  const n = points.length / 2;
  // Midpoints of the crack-boundary edges form a polygon that follows diagonals as diagonals.
  let length = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n, k = (i + 2) % n;
    const ax = (points[2 * i] + points[2 * j]) / 2, ay = (points[2 * i + 1] + points[2 * j + 1]) / 2;
    const bx = (points[2 * j] + points[2 * k]) / 2, by = (points[2 * j + 1] + points[2 * k + 1]) / 2;
    length += Math.hypot(bx - ax, by - ay);
  }
  return length;
}

export function measureMask(
  mask: ArrayLike<number>,
  height: number,
  width: number,
  options: { pixelSize?: { x: number; y: number } | null; image?: ArrayLike<number>; rbox?: RotatedBox } = {},
): ObjectMeasurements {
  let n = 0, sx = 0, sy = 0, sum = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      n++;
      sx += x;
      sy += y;
      if (options.image) sum += options.image[i];
    }
  }
  const ps = options.pixelSize ?? null;
  const unit = ps ? 'nm' : 'px';
  const lin = ps ? Math.sqrt(ps.x * ps.y) : 1;
  const areaScale = ps ? ps.x * ps.y : 1;
  if (n === 0) {
    return { unit, area: 0, equivalentDiameter: 0, perimeter: 0, majorAxis: 0, minorAxis: 0, orientation: 0, aspectRatio: 0, circularity: 0, solidity: 0 };
  }
  const mx = sx / n, my = sy / n;
  let cxx = 0, cyy = 0, cxy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      const dx = x - mx, dy = y - my;
      cxx += dx * dx;
      cyy += dy * dy;
      cxy += dx * dy;
    }
  }
  // Central moments of the pixel set plus 1/12 per axis for the pixels' own extent (regionprops).
  cxx = cxx / n + 1 / 12;
  cyy = cyy / n + 1 / 12;
  cxy /= n;
  const common = Math.sqrt(((cxx - cyy) / 2) ** 2 + cxy * cxy);
  const l1 = (cxx + cyy) / 2 + common, l2 = (cxx + cyy) / 2 - common;
  const major = 4 * Math.sqrt(Math.max(l1, 0));
  const minor = 4 * Math.sqrt(Math.max(l2, 0));
  // Image y points down: the displayed counter-clockwise angle of the major axis is -atan2(...).
  let orientation = (-0.5 * Math.atan2(2 * cxy, cxx - cyy) * 180) / Math.PI;
  if (orientation <= -90) orientation += 180;
  const contours = maskToContours(mask, height, width);
  let perimeterPx = 0;
  const hullPoints: Point[] = [];
  for (const c of contours) {
    perimeterPx += smoothedPerimeter(c.points);
    if (!c.hole) for (let i = 0; i < c.points.length; i += 2) hullPoints.push([c.points[i], c.points[i + 1]]);
  }
  const hullArea = polygonArea(convexHull(hullPoints));
  const area = n * areaScale;
  const perimeter = perimeterPx * lin;
  const out: ObjectMeasurements = {
    unit,
    area,
    equivalentDiameter: Math.sqrt((4 * area) / Math.PI),
    perimeter,
    majorAxis: major * lin,
    minorAxis: minor * lin,
    orientation,
    aspectRatio: minor > 0 ? major / minor : 0,
    circularity: perimeter > 0 ? Math.min(1, (4 * Math.PI * area) / (perimeter * perimeter)) : 0,
    solidity: hullArea > 0 ? Math.min(1, n / hullArea) : 1,
  };
  if (options.image) out.meanIntensity = sum / n;
  if (options.rbox) {
    const [, , w, h, a] = options.rbox;
    out.length = Math.max(w, h) * lin;
    out.width = Math.min(w, h) * lin;
    out.angle = w >= h ? a : a > 0 ? a - 90 : a + 90;
  }
  return out;
}

/** Measurements of an RLE instance mask. */
export function measureRle(rle: Rle, options: { pixelSize?: { x: number; y: number } | null; image?: ArrayLike<number>; rbox?: RotatedBox } = {}): ObjectMeasurements {
  if (rleArea(rle) === 0) return measureMask(new Uint8Array(0), 0, 0, options);
  return measureMask(decodeRle(rle), rle.height, rle.width, options);
}
