/**
 * Axis-aligned anchors per FPN level, as detectron2's DefaultAnchorGenerator (offset 0): at each
 * feature location (x, y) * stride, one box per aspect ratio with area size^2 (ratio = h / w).
 * Returned as a flat xyxy Float32Array, level by level, location-major then anchor, matching the
 * [N, H, W, A] layout of the RPN head outputs.
 */
export interface AnchorLevel {
  stride: number;
  size: number;
  height: number;
  width: number;
}

export function cellAnchors(size: number, ratios: readonly number[]): number[][] {
  return ratios.map((r) => {
    const w = Math.sqrt((size * size) / r);
    const h = w * r;
    return [-w / 2, -h / 2, w / 2, h / 2];
  });
}

export function generateAnchors(levels: readonly AnchorLevel[], ratios: readonly number[]): { anchors: Float32Array; perLevel: number[] } {
  const perLevel = levels.map((l) => l.height * l.width * ratios.length);
  const anchors = new Float32Array(perLevel.reduce((a, b) => a + b, 0) * 4);
  let o = 0;
  for (const l of levels) {
    const cell = cellAnchors(l.size, ratios);
    for (let y = 0; y < l.height; y++) {
      for (let x = 0; x < l.width; x++) {
        const cx = x * l.stride, cy = y * l.stride;
        for (const [x1, y1, x2, y2] of cell) {
          anchors[o++] = cx + x1;
          anchors[o++] = cy + y1;
          anchors[o++] = cx + x2;
          anchors[o++] = cy + y2;
        }
      }
    }
  }
  return { anchors, perLevel };
}
