import { invalidArgument } from '../errors.ts';

/** One closed boundary of a mask: vertices on pixel corners, as a flat `[x0, y0, x1, y1, ...]` list. */
export interface MaskContour {
  points: number[];
  /** True for the boundary of a hole inside an object (counter-clockwise on screen). */
  hole: boolean;
}

// Directions of travel along pixel edges, y down: 0 right, 1 down, 2 left, 3 up.
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/**
 * Boundaries of a row-major binary mask, traced along pixel edges ("crack following"): outer
 * boundaries run clockwise on screen with the object on the right, holes counter-clockwise, and the
 * polygons enclose exactly the foreground pixels (the shoelace area of outer minus holes equals the
 * pixel count). Diagonally touching pixels belong to one object (8-connectivity). Only corner
 * vertices are kept.
 * Hand-written: the usual libraries (OpenCV's findContours, skimage's marching squares) are native or
 * Python, and marching squares puts vertices at half pixels, which does not round-trip to the mask.
 */
export function maskToContours(mask: ArrayLike<number>, height: number, width: number): MaskContour[] {
  if (!Number.isInteger(height) || height < 0 || !Number.isInteger(width) || width < 0) {
    throw invalidArgument('mask size', 'non-negative integer height and width', [height, width]);
  }
  if (mask.length !== height * width) throw invalidArgument('mask length', `height * width = ${height * width}`, mask.length);
  const W1 = width + 1;
  const fg = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  // Outgoing boundary edges per vertex (at most two, at diagonal touches); -1 = none.
  const nVert = W1 * (height + 1);
  const out = new Int8Array(nVert * 2).fill(-1);
  const add = (vx: number, vy: number, dir: number): void => {
    const v = (vy * W1 + vx) * 2;
    out[out[v] === -1 ? v : v + 1] = dir;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!fg(x, y)) continue;
      if (!fg(x, y - 1)) add(x, y, 0);
      if (!fg(x + 1, y)) add(x + 1, y, 1);
      if (!fg(x, y + 1)) add(x + 1, y + 1, 2);
      if (!fg(x - 1, y)) add(x, y + 1, 3);
    }
  }
  const contours: MaskContour[] = [];
  for (let start = 0; start < nVert * 2; start++) {
    if (out[start] === -1) continue;
    const sv = start >> 1;
    let x = sv % W1;
    let y = (sv - x) / W1;
    let dir = out[start];
    out[start] = -1;
    const pts: number[] = [x, y];
    const x0 = x, y0 = y;
    for (;;) {
      x += DX[dir];
      y += DY[dir];
      if (x === x0 && y === y0) {
        // Closing edge reached the start vertex; a second edge there belongs to another loop.
        break;
      }
      const v = (y * W1 + x) * 2;
      // At a diagonal touch two edges leave this vertex: take the left turn, which keeps
      // diagonally adjacent pixels in one boundary (8-connectivity).
      let slot = v;
      if (out[v + 1] !== -1) slot = out[v] === (dir + 3) % 4 ? v : v + 1;
      else if (out[v] === -1) break; // cannot happen for a valid edge set
      const next = out[slot];
      out[slot] = -1;
      if (out[v] === -1 && out[v + 1] !== -1) {
        out[v] = out[v + 1];
        out[v + 1] = -1;
      }
      if (next !== dir) pts.push(x, y);
      dir = next;
    }
    // Drop the start vertex when it lies in the middle of a straight run.
    if (pts.length >= 6) {
      const n = pts.length;
      const [ax, ay, bx, by, cx, cy] = [pts[n - 2], pts[n - 1], pts[0], pts[1], pts[2], pts[3]];
      if ((bx - ax) * (cy - by) - (by - ay) * (cx - bx) === 0) pts.splice(0, 2);
    }
    let twice = 0;
    for (let i = 0; i < pts.length; i += 2) {
      const j = (i + 2) % pts.length;
      twice += pts[i] * pts[j + 1] - pts[j] * pts[i + 1];
    }
    contours.push({ points: pts, hole: twice < 0 });
  }
  return contours;
}
