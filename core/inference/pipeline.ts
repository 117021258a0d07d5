import { EmsegError } from '../errors.ts';
import { MAX_PIXELS } from '../formats/limits.ts';
import type { EmImage } from '../formats/types.ts';
import { normalizeImage } from '../preprocess/normalize.ts';
import { type Detection, type ImageOutputs, readDetections, toInstance } from './detections.ts';
import { type ModelInput, cropPadded, resampleBilinear } from './input.ts';
import type { ModelInfo } from './model-contract.ts';
import { ownedByTile, planTiles } from './tiling.ts';
import type { ImageResult, Instance } from './types.ts';

/**
 * The inference pipeline both SDKs run, without a runtime: normalise the whole image (percentiles)
 * -> resample to the model's pixel size when both are calibrated -> tiles padded to the model's
 * divisor -> `runTile` (the SDK's ONNX Runtime: onnxruntime-node or onnxruntime-web) -> detections
 * mapped back to image pixels, each owned by one tile -> masks (RLE) and measurements in nm.
 */
export interface TileOptions {
  /** Tile side in model pixels (default 1024). Images no larger run whole. */
  size?: number;
  /** Overlap of neighbouring tiles (default 128): objects up to this size are never cut. */
  overlap?: number;
}

/** Tiling when no tile option is given. */
export const DEFAULT_TILE = { size: 1024, overlap: 128 } as const;
/** The score threshold when none is given. */
export const DEFAULT_SCORE_THRESHOLD = 0.5;

export interface PipelineOptions {
  /** Keep detections with score >= this (default 0.5). */
  scoreThreshold?: number;
  /** Tiling of large images; false runs every image whole. */
  tile?: TileOptions | false;
  /** Resample images to the model's pixel size when both are calibrated (default true). */
  rescale?: boolean;
  /** Only these classes (names); default all the model has. */
  classes?: readonly string[];
}

/** Milliseconds per stage of one image. */
export interface StageTiming {
  preprocess: number;
  inference: number;
  postprocess: number;
}

/** One tile through the model: its outputs for that one image (batch of 1). */
export type RunTile = (input: ModelInput) => Promise<ImageOutputs>;

export async function detectImage(image: EmImage, info: ModelInfo, runTile: RunTile, o: PipelineOptions = {}, name = 'image'): Promise<{ result: ImageResult; timing: StageTiming }> {
  const timing: StageTiming = { preprocess: 0, inference: 0, postprocess: 0 };
  let t = performance.now();
  // In [0, 1]; NaN pixels (float images) come out as 0, background.
  const normalized = normalizeImage(image, info.normalization).data;
  // Model pixels per image pixel: resample when both are calibrated and differ by > 2 %.
  let factor = 1;
  if (o.rescale !== false && info.pixelSizeNm && image.pixelSize) {
    const f = Math.sqrt(image.pixelSize.x * image.pixelSize.y) / info.pixelSizeNm;
    if (Math.abs(f - 1) > 0.02) factor = f;
  }
  const width = factor === 1 ? image.width : Math.max(1, Math.round(image.width * factor));
  const height = factor === 1 ? image.height : Math.max(1, Math.round(image.height * factor));
  // An absurd calibration (a 64 px image at 2000 nm/px for a 1 nm/px model) must not allocate gigapixels.
  if (!(width * height <= MAX_PIXELS)) {
    throw new EmsegError('EMSEG_IMAGE_TOO_LARGE', `${name}: resampling ${image.width} x ${image.height} px at ${image.pixelSize?.x} nm/px to the model's ${info.pixelSizeNm} nm/px gives ${width} x ${height} px, more than the limit of ${MAX_PIXELS} pixels; check the calibration or run without rescaling (rescale: false, --no-rescale)`, { file: name });
  }
  const data = factor === 1 ? normalized : resampleBilinear(normalized, image.width, image.height, width, height);
  const tile = o.tile === false ? { size: Math.max(width, height), overlap: 0 } : { size: o.tile?.size ?? DEFAULT_TILE.size, overlap: o.tile?.overlap ?? DEFAULT_TILE.overlap };
  // A tile never larger than the image, its overlap below its size (planTiles' contract).
  const tileSize = Math.min(tile.size, Math.max(width, height));
  const tiles = planTiles(width, height, tileSize, Math.min(tile.overlap, tileSize - 1));
  timing.preprocess += performance.now() - t;
  const detections: Detection[] = [];
  const threshold = o.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD;
  const keepClass = o.classes ? new Set(o.classes.map((c) => info.classes.indexOf(c))) : null;
  for (const tl of tiles) {
    t = performance.now();
    const x = cropPadded(data, width, tl.x, tl.y, tl.width, tl.height, info.inputDivisor);
    timing.preprocess += performance.now() - t;
    t = performance.now();
    const rows = await runTile(x);
    timing.inference += performance.now() - t;
    t = performance.now();
    for (const d of readDetections(rows, { offsetX: tl.x, offsetY: tl.y, scale: 1 / factor })) {
      if (d.score < threshold || (keepClass && !keepClass.has(d.classIndex))) continue;
      // Ownership by box centre in model space (the tiles partition it).
      const cx = ((d.box[0] + d.box[2]) / 2) * factor, cy = ((d.box[1] + d.box[3]) / 2) * factor;
      if (tiles.length === 1 || ownedByTile(tl, cx, cy)) detections.push(d);
    }
    timing.postprocess += performance.now() - t;
  }
  t = performance.now();
  detections.sort((a, b) => b.score - a.score);
  const instances: Instance[] = detections.map((d) => toInstance(d, info, image, info.maskResolution ?? 0));
  timing.postprocess += performance.now() - t;
  return { result: { width: image.width, height: image.height, pixelSize: image.pixelSize, instances }, timing };
}
