import type { TwoStageConfig } from '../model/detection/config.ts';
import type { MaskRcnnConfig } from '../model/detection/mask-config.ts';

/**
 * Multiply-adds of one inference of a two-stage detector on an H x W image, counted from its
 * configuration (convolutions and fully connected layers; normalisation, pooling, NMS and
 * post-processing are memory-bound and not counted). `proposals` RoIs go through the box head
 * (`boxPasses` times: the rotated detector's refinement passes and second stage), `detections`
 * through the mask head. The same count serves both sides of a comparison at equal architecture.
 */
export function detectorMacs(c: TwoStageConfig & { mask?: MaskRcnnConfig['mask'] }, height: number, width: number, proposals: number, detections: number, boxPasses = 1): { backbone: number; fpn: number; rpn: number; boxHead: number; maskHead: number; total: number } {
  const conv = (h: number, w: number, ci: number, co: number, k: number): number => h * w * ci * co * k * k;
  const bb = c.backbone;
  let h = height / 2;
  let w = width / 2;
  let backbone = conv(h, w, 1, bb.stem ?? bb.widths[0], 7);
  h /= 2;
  w /= 2;
  let ch = bb.stem ?? bb.widths[0];
  const levels: [number, number, number][] = [];
  bb.widths.forEach((out, s) => {
    for (let k = 0; k < bb.blocks[s]; k++) {
      const stride = k === 0 && s > 0 ? 2 : 1;
      if (stride === 2) {
        h /= 2;
        w /= 2;
      }
      backbone += conv(h, w, ch, out, 3) + conv(h, w, out, out, 3) + (stride !== 1 || ch !== out ? conv(h, w, ch, out, 1) : 0);
      ch = out;
    }
    levels.push([h, w, out]);
  });
  const f = c.fpnChannels;
  let fpn = 0;
  let rpn = 0;
  const anchors = c.anchorRatios.length;
  for (const [lh, lw, lc] of levels) {
    fpn += conv(lh, lw, lc, f, 1) + conv(lh, lw, f, f, 3);
    rpn += conv(lh, lw, f, f, 3) + conv(lh, lw, f, anchors * 5, 1);
  }
  const pool = c.roi.poolSize;
  const boxHead = boxPasses * proposals * (pool * pool * f * c.roi.fcDim + c.roi.fcDim * c.roi.fcDim + c.roi.fcDim * (c.classes.length + 1 + 5));
  let maskHead = 0;
  if (c.mask) {
    const m = c.mask;
    const px = m.poolSize * m.poolSize;
    maskHead = detections * (px * f * m.convDim * 9 + (m.numConvs - 1) * px * m.convDim * m.convDim * 9 + px * m.convDim * m.convDim * 4 + 4 * px * m.convDim * c.classes.length);
  }
  return { backbone, fpn, rpn, boxHead, maskHead, total: backbone + fpn + rpn + boxHead + maskHead };
}
