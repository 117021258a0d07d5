/**
 * Box regression targets, as detectron2's Box2BoxTransform: deltas (dx, dy, dw, dh) of a target box
 * relative to a reference box, scaled by `weights` ((1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the
 * box head); dw, dh are clamped at decode time to log(1000 / 16) to avoid overflow.
 * Boxes are xyxy in pixels. Plain arrays: targets are built on the CPU per image.
 */
export const SCALE_CLAMP = Math.log(1000 / 16);

export class BoxCoder {
  constructor(readonly weights: readonly [number, number, number, number] = [1, 1, 1, 1]) {}

  encode(ref: ArrayLike<number>, r: number, target: ArrayLike<number>, t: number, out: Float32Array, o: number): void {
    const [wx, wy, ww, wh] = this.weights;
    const pw = ref[4 * r + 2] - ref[4 * r], ph = ref[4 * r + 3] - ref[4 * r + 1];
    const px = ref[4 * r] + 0.5 * pw, py = ref[4 * r + 1] + 0.5 * ph;
    const gw = target[4 * t + 2] - target[4 * t], gh = target[4 * t + 3] - target[4 * t + 1];
    const gx = target[4 * t] + 0.5 * gw, gy = target[4 * t + 1] + 0.5 * gh;
    out[o] = (wx * (gx - px)) / pw;
    out[o + 1] = (wy * (gy - py)) / ph;
    out[o + 2] = ww * Math.log(gw / pw);
    out[o + 3] = wh * Math.log(gh / ph);
  }

  decode(ref: ArrayLike<number>, r: number, deltas: ArrayLike<number>, d: number, out: Float32Array | number[], o: number): void {
    const [wx, wy, ww, wh] = this.weights;
    const pw = ref[4 * r + 2] - ref[4 * r], ph = ref[4 * r + 3] - ref[4 * r + 1];
    const px = ref[4 * r] + 0.5 * pw, py = ref[4 * r + 1] + 0.5 * ph;
    const dx = deltas[d] / wx, dy = deltas[d + 1] / wy;
    const dw = Math.min(deltas[d + 2] / ww, SCALE_CLAMP), dh = Math.min(deltas[d + 3] / wh, SCALE_CLAMP);
    const cx = dx * pw + px, cy = dy * ph + py, w = Math.exp(dw) * pw, h = Math.exp(dh) * ph;
    out[o] = cx - w / 2;
    out[o + 1] = cy - h / 2;
    out[o + 2] = cx + w / 2;
    out[o + 3] = cy + h / 2;
  }
}

/**
 * Oriented boxes regressed from AXIS-ALIGNED proposals (emseg's choice for rods, documented in
 * docs/training.md): targets (dx, dy, dw, dh, c, s) where the centre offsets are relative to the
 * proposal's width and height, the sizes relative to the proposal's scale sqrt(pw * ph) (so a
 * vertical rod in a tall proposal is not penalised for w being the long side), and the angle is
 * regressed as (cos 2t, sin 2t): continuous and 180-degree periodic, so a rod at +89.9 and one at
 * -89.9 degrees have nearly equal targets (no +-90 discontinuity). Canonical boxes have w >= h.
 */
export class RotatedBoxCoder {
  constructor(readonly weights: readonly [number, number, number, number] = [10, 10, 5, 5], readonly angleWeight = 1) {}

  /** `target` rbox [cx, cy, w, h, angleDeg] (canonical) relative to xyxy `ref`; writes 6 values. */
  encode(ref: ArrayLike<number>, r: number, target: ArrayLike<number>, t: number, out: Float32Array, o: number): void {
    const [wx, wy, ww, wh] = this.weights;
    const pw = ref[4 * r + 2] - ref[4 * r], ph = ref[4 * r + 3] - ref[4 * r + 1];
    const px = ref[4 * r] + 0.5 * pw, py = ref[4 * r + 1] + 0.5 * ph;
    const scale = Math.sqrt(pw * ph);
    const a = (2 * target[5 * t + 4] * Math.PI) / 180;
    out[o] = (wx * (target[5 * t] - px)) / pw;
    out[o + 1] = (wy * (target[5 * t + 1] - py)) / ph;
    out[o + 2] = ww * Math.log(target[5 * t + 2] / scale);
    out[o + 3] = wh * Math.log(target[5 * t + 3] / scale);
    out[o + 4] = this.angleWeight * Math.cos(a);
    out[o + 5] = this.angleWeight * Math.sin(a);
  }

  /** Decode 6 deltas against xyxy `ref` into a canonical rbox [cx, cy, w, h, angleDeg]. */
  decode(ref: ArrayLike<number>, r: number, deltas: ArrayLike<number>, d: number, out: Float32Array | number[], o: number): void {
    const [wx, wy, ww, wh] = this.weights;
    const pw = ref[4 * r + 2] - ref[4 * r], ph = ref[4 * r + 3] - ref[4 * r + 1];
    const px = ref[4 * r] + 0.5 * pw, py = ref[4 * r + 1] + 0.5 * ph;
    const scale = Math.sqrt(pw * ph);
    let w = Math.exp(Math.min(deltas[d + 2] / ww, SCALE_CLAMP)) * scale;
    let h = Math.exp(Math.min(deltas[d + 3] / wh, SCALE_CLAMP)) * scale;
    let angle = (Math.atan2(deltas[d + 5], deltas[d + 4]) * 90) / Math.PI; // half of 2t, in degrees, (-90, 90]
    if (h > w) {
      [w, h] = [h, w];
      angle = angle > 0 ? angle - 90 : angle + 90;
    }
    if (angle >= 90) angle -= 180;
    out[o] = (deltas[d] / wx) * pw + px;
    out[o + 1] = (deltas[d + 1] / wy) * ph + py;
    out[o + 2] = w;
    out[o + 3] = h;
    out[o + 4] = angle;
  }
}

/**
 * Oriented boxes regressed from ROTATED RoIs (the second stage, `config.rotatedStage`), as Oriented
 * R-CNN's delta coder: the centre offset is measured in the RoI's own frame (along its w and h
 * sides) relative to its w and h, the sizes are log ratios to the RoI's w and h, and the angle is
 * the difference of angles in radians. A rectangle is the same after swapping w and h and turning
 * by 90 degrees, so the target takes the description whose angle is within 45 degrees of the RoI's:
 * the angle delta stays in [-pi/4, pi/4) and no target sits on the +-90 degree seam. 5 values.
 */
export class RotatedRoiCoder {
  constructor(readonly weights: readonly [number, number, number, number, number] = [10, 10, 5, 5, 10]) {}

  /** `target` rbox relative to rbox `ref` (both [cx, cy, w, h, angleDeg]); writes 5 values. */
  encode(ref: ArrayLike<number>, r: number, target: ArrayLike<number>, t: number, out: Float32Array, o: number): void {
    const [wx, wy, ww, wh, wa] = this.weights;
    const rw = ref[5 * r + 2], rh = ref[5 * r + 3];
    const ra = (ref[5 * r + 4] * Math.PI) / 180;
    let gw = target[5 * t + 2], gh = target[5 * t + 3];
    let d = (target[5 * t + 4] * Math.PI) / 180 - ra;
    d -= Math.PI * Math.floor(d / Math.PI + 0.5); // [-pi/2, pi/2)
    if (d >= Math.PI / 4) {
      [gw, gh] = [gh, gw];
      d -= Math.PI / 2;
    } else if (d < -Math.PI / 4) {
      [gw, gh] = [gh, gw];
      d += Math.PI / 2;
    }
    const dx = target[5 * t] - ref[5 * r], dy = target[5 * t + 1] - ref[5 * r + 1];
    const c = Math.cos(ra), s = Math.sin(ra);
    out[o] = (wx * (dx * c - dy * s)) / rw;
    out[o + 1] = (wy * (dx * s + dy * c)) / rh;
    out[o + 2] = ww * Math.log(gw / rw);
    out[o + 3] = wh * Math.log(gh / rh);
    out[o + 4] = wa * d;
  }

  /** Decode 5 deltas against rbox `ref` into a canonical rbox (w >= h, angle in [-90, 90)). */
  decode(ref: ArrayLike<number>, r: number, deltas: ArrayLike<number>, d: number, out: Float32Array | number[], o: number): void {
    const [wx, wy, ww, wh, wa] = this.weights;
    const rw = ref[5 * r + 2], rh = ref[5 * r + 3];
    const ra = ref[5 * r + 4];
    const t = (ra * Math.PI) / 180;
    const c = Math.cos(t), s = Math.sin(t);
    const u = (deltas[d] / wx) * rw, v = (deltas[d + 1] / wy) * rh;
    let w = Math.exp(Math.min(deltas[d + 2] / ww, SCALE_CLAMP)) * rw;
    let h = Math.exp(Math.min(deltas[d + 3] / wh, SCALE_CLAMP)) * rh;
    let a = ra + ((deltas[d + 4] / wa) * 180) / Math.PI;
    if (h > w) {
      [w, h] = [h, w];
      a += 90;
    }
    a -= 180 * Math.floor((a + 90) / 180);
    out[o] = ref[5 * r] + u * c + v * s;
    out[o + 1] = ref[5 * r + 1] - u * s + v * c;
    out[o + 2] = w;
    out[o + 3] = h;
    out[o + 4] = a;
  }
}
