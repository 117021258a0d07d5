import { invalidArgument } from '../errors.ts';

/**
 * Tiled inference of images larger than a model should see at once. Tiles of `size` overlap by
 * `overlap` pixels; each tile owns a core region (the tile minus half the overlap on every side
 * that has a neighbour), and a detection is kept only by the tile whose core holds its box centre.
 * The cores partition the image, so no object is counted twice; an object no larger than the
 * overlap lies wholly inside the tile that owns it, so none is cut (the overlap is the largest
 * object size the tiling is exact for).
 */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Core [x1, y1, x2, y2): detections with their centre here belong to this tile. */
  core: [number, number, number, number];
}

function starts(length: number, size: number, step: number): number[] {
  if (length <= size) return [0];
  const out: number[] = [];
  for (let s = 0; s + size < length; s += step) out.push(s);
  out.push(length - size); // the last tile ends at the edge
  return out;
}

export function planTiles(width: number, height: number, size: number, overlap: number): Tile[] {
  if (!(Number.isInteger(size) && size > 0)) throw invalidArgument('tile size', 'a positive integer', size);
  if (!(Number.isInteger(overlap) && overlap >= 0 && overlap < size)) throw invalidArgument('tile overlap', `an integer in [0, ${size})`, overlap);
  const step = size - overlap;
  const xs = starts(width, size, step);
  const ys = starts(height, size, step);
  const tiles: Tile[] = [];
  const cuts = (positions: number[], tileLength: number): number[] => {
    // Boundary between tile i and i+1: the middle of their overlap.
    // The outer bounds are infinite: a box centre on or past the image edge still has an owner.
    const bounds = [-Infinity];
    for (let i = 0; i + 1 < positions.length; i++) bounds.push(Math.round((positions[i + 1] + positions[i] + tileLength) / 2));
    bounds.push(Infinity);
    return bounds;
  };
  const bx = cuts(xs, Math.min(size, width));
  const by = cuts(ys, Math.min(size, height));
  ys.forEach((y, j) => {
    xs.forEach((x, i) => {
      tiles.push({ x, y, width: Math.min(size, width), height: Math.min(size, height), core: [bx[i], by[j], bx[i + 1], by[j + 1]] });
    });
  });
  return tiles;
}

/** Whether a detection (image coordinates) with box centre (cx, cy) belongs to `tile`. */
export function ownedByTile(tile: Tile, cx: number, cy: number): boolean {
  const [x1, y1, x2, y2] = tile.core;
  return cx >= x1 && cx < x2 && cy >= y1 && cy < y2;
}
