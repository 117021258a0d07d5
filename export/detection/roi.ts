import { type OpBuilder, attr } from '../../onnx/index.ts';
import { column, rowCount, whereTrue } from './graph-helpers.ts';

/**
 * Multi-level RoIAlign of one image, as RotatedRcnn.pool: each proposal pooled on its FPN level
 * (detectron2's assign_boxes_to_levels, training/detection/roi-align.ts `fpnLevels`), rows in the
 * order of the proposals.
 *
 * Level: floor(4 + log2(sqrt(area) / 224 + 1e-8)) clamped to [2, 5]. Computed in float64 from the
 * float32 boxes (as the reference's JS numbers) and without a logarithm: with
 * t = sqrt(area) / 224 + 1e-8 (correctly rounded Sqrt, Div, Add: the same double as in JS), the
 * level is 2 + [t >= 1/2] + [t >= 1] + [t >= 2], which is the clamped floor for every t not within
 * an ulp of those powers of two.
 *
 * Pooling: standard RoiAlign-16, coordinate_transformation_mode 'half_pixel', mode 'avg', the
 * config's sampling ratio, spatial_scale 1/stride: the semantics roi-align.ts reproduces in tfjs.
 * Per level the proposals of that level are gathered (NonZero), pooled, and the concatenated result
 * is put back in proposal order with the inverse permutation (ScatterElements).
 */
export interface RoiGraphOptions {
  strides: readonly number[];
  poolSize: number;
  samplingRatio: number;
}

/**
 * FPN level index (int64 [R], 0..3 for P2..P5) from box areas (float64 [R]): the clamped
 * floor(4 + log2(sqrt(area) / 224 + 1e-8)) without a logarithm (see above).
 */
export function emitFpnLevelIndex(b: OpBuilder, area: string): string {
  const f64 = (v: number): string => b.scalar('float64', v);
  const t = b.add(b.div(b.op('Sqrt', [b.max(area, f64(0))]), f64(224)), f64(1e-8));
  const atLeast = (v: number): string => b.cast(b.greaterOrEqual(t, f64(v)), 'int64');
  return b.add(b.add(atLeast(0.5), atLeast(1)), atLeast(2));
}

/**
 * Pool every row on its level: `poolLevel(l, rows)` pools the rows (int64 [n]) of level l; the
 * per-level results are concatenated and put back in row order with the inverse permutation
 * (ScatterElements).
 */
export function emitPoolByLevel(b: OpBuilder, level: string, levels: number, poolLevel: (l: number, rows: string) => string): string {
  const pooled: string[] = [];
  const order: string[] = [];
  for (let l = 0; l < levels; l++) {
    const rows = whereTrue(b, b.equal(level, b.scalar('int64', l)));
    pooled.push(poolLevel(l, rows));
    order.push(rows);
  }
  const all = b.concat(pooled, 0);
  const byLevel = b.concat(order, 0);
  // inverse[byLevel[j]] = j: row j of `all` is row byLevel[j].
  const positions = b.range(rowCount(b, byLevel));
  const inverse = b.op('ScatterElements', [b.filled(b.shape(byLevel), 'int64', 0), byLevel, positions], [attr.int('axis', 0)]);
  return b.gather(all, inverse, 0);
}

/** `features`: per level [1, C, H_l, W_l]; `boxes`: float32 [R, 4]. Returns [R, C, P, P]. */
export function emitMultiLevelRoiAlign(b: OpBuilder, features: readonly string[], boxes: string, o: RoiGraphOptions): string {
  const d = b.cast(boxes, 'float64');
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => column(b, d, i));
  const level = emitFpnLevelIndex(b, b.mul(b.sub(x2, x1), b.sub(y2, y1)));
  return emitPoolByLevel(b, level, features.length, (l, rows) => {
    const rois = b.gather(boxes, rows, 0);
    const batchIndex = b.filled(b.shape(rows), 'int64', 0);
    return b.op('RoiAlign', [features[l], rois, batchIndex], [
      attr.string('coordinate_transformation_mode', 'half_pixel'),
      attr.string('mode', 'avg'),
      attr.int('output_height', o.poolSize),
      attr.int('output_width', o.poolSize),
      attr.int('sampling_ratio', o.samplingRatio),
      attr.float('spatial_scale', 1 / o.strides[l]),
    ], `roi_align_l${l}`);
  });
}
