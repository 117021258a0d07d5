/** A 2-D point `[x, y]` in pixels (x right, y down). */
export type Point = readonly [number, number];

/** Axis-aligned box as corners `[x1, y1, x2, y2]` (x1 <= x2, y1 <= y2). */
export type BoxXYXY = readonly [number, number, number, number];

/** Axis-aligned box as COCO writes it: `[x, y, width, height]`. */
export type BoxXYWH = readonly [number, number, number, number];

/**
 * Rotated box `[cx, cy, w, h, angleDeg]` in detectron2's XYWHA convention: x right, y down, the angle
 * counter-clockwise *as displayed* (so clockwise in the y-down frame's algebra). With t = angle in
 * radians, c = cos t, s = sin t, the corners for u = +-w/2, v = +-h/2 are
 *   x = cx + u*c + v*s,   y = cy - u*s + v*c.
 */
export type RotatedBox = readonly [number, number, number, number, number];
