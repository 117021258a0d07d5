import { type OpBuilder, attr } from '../../onnx/index.ts';
import { column } from './graph-helpers.ts';
import { emitFpnLevelIndex, emitPoolByLevel } from './roi.ts';

/**
 * Multi-level ROTATED RoIAlign of one image, as RotatedRcnn.poolRotated
 * (training/detection/rotated-roi-align.ts): each rbox on the FPN level of its area w * h, S x S
 * bilinear samples per output cell on a grid turned with the box and `extend` times its size,
 * averaged. ONNX has no rotated RoIAlign; the sampling is standard GridSample (opset 16: bilinear,
 * zeros padding, align_corners 0), the semantics the tfjs plan reproduces: the P*S sample offsets
 * along each box axis are (k + 0.5) / (P S) - 1/2 of the window, sample (u, v) lies at
 * x = cx + u cos t + v sin t, y = cy - u sin t + v cos t, and GridSample's normalised coordinate of
 * image position x on a map of width W_l and stride s is 2 x / (s W_l) - 1.
 */
export interface RotatedRoiGraphOptions {
  strides: readonly number[];
  poolSize: number;
  samplingRatio: number;
  extend: readonly [number, number];
}

/** `features`: per level [1, C, H_l, W_l]; `rboxes`: float32 [R, 5]. Returns [R, C, P, P]. */
export function emitMultiLevelRotatedRoiAlign(b: OpBuilder, features: readonly string[], rboxes: string, o: RotatedRoiGraphOptions): string {
  const P = o.poolSize, S = o.samplingRatio, n = P * S;
  const d = b.cast(rboxes, 'float64');
  const level = emitFpnLevelIndex(b, b.mul(column(b, d, 2), column(b, d, 3)));
  const offsets = Array.from({ length: n }, (_, k) => (k + 0.5) / n - 0.5);
  const along = b.constant('float32', [1, 1, n], offsets, 'grid_u'); // columns
  const across = b.constant('float32', [1, n, 1], offsets, 'grid_v'); // rows
  const f32 = (v: number): string => b.scalar('float32', v);
  return emitPoolByLevel(b, level, features.length, (l, rows) => {
    const r = b.gather(rboxes, rows, 0);
    const col = (k: number): string => b.unsqueeze(column(b, r, k), [1, 2]); // [m, 1, 1]
    const t = b.mul(col(4), f32(Math.PI / 180));
    const c = b.op('Cos', [t]);
    const s = b.op('Sin', [t]);
    const u = b.mul(b.mul(col(2), f32(o.extend[0])), along); // [m, 1, n]
    const v = b.mul(b.mul(col(3), f32(o.extend[1])), across); // [m, n, 1]
    const x = b.add(b.add(col(0), b.mul(u, c)), b.mul(v, s)); // [m, n, n]
    const y = b.add(b.sub(col(1), b.mul(u, s)), b.mul(v, c));
    const map = b.shape(features[l]);
    const extent = (axis: number): string => b.mul(b.cast(b.gather(map, b.scalar('int64', axis), 0), 'float32'), f32(o.strides[l] / 2));
    const gx = b.sub(b.div(x, extent(3)), f32(1));
    const gy = b.sub(b.div(y, extent(2)), f32(1));
    const grid = b.reshape(b.concat([b.unsqueeze(gx, [3]), b.unsqueeze(gy, [3])], 3), b.int64s([1, -1, n, 2], 'grid_shape')); // [1, m n, n, 2]
    const sampled = b.op('GridSample', [features[l], grid], [attr.string('mode', 'bilinear'), attr.string('padding_mode', 'zeros'), attr.int('align_corners', 0)], `rotated_roi_l${l}`);
    // [1, C, m P S, P S] -> [C m P, 1, S, P S] (rows of cells in the batch axis, so an empty level is
    // N = 0, which pooling accepts) -> S x S AveragePool, stride S -> [C m P, 1, 1, P] -> [C, m, P, P].
    const tiles = b.reshape(sampled, b.int64s([-1, 1, S, n], 'tiles'));
    const mean = b.op('AveragePool', [tiles], [attr.ints('kernel_shape', [S, S]), attr.ints('strides', [S, S])]);
    const cells = b.reshape(mean, b.concat([b.shape(features[l], 1, 2), b.int64s([-1, P, P], 'cells')], 0));
    return b.op('Transpose', [cells], [attr.ints('perm', [1, 0, 2, 3])]);
  });
}
