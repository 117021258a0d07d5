import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCocoDataset } from '../core/coco/load.ts';
import { EmsegError } from '../core/errors.ts';
import { parseModelInfo } from '../core/inference/model-contract.ts';
import { bytesSource, readOnnxMetadata } from '../core/inference/onnx-metadata.ts';
import { detectImage } from '../core/inference/pipeline.ts';
import { type SessionLike, sessionTileRunner } from '../core/inference/run-tile.ts';
import { ActivationRanges, type ActivationRange } from '../core/quantization/activation-ranges.ts';
import { expandInputs } from './analyze/inputs.ts';
import { readImage } from './read-image.ts';
import { readTextFile } from './read-file.ts';

/**
 * Calibration for static int8 quantization (emseg-export --int8): runs a model whose graph also
 * outputs the tensors to calibrate (export/quantize.ts observerModel) on images exactly as the SDK
 * runs a model (normalisation, resampling to the model's pixel size, tiles), and returns each
 * tensor's activation range.
 */

/** The calibration images: image files, folders, globs, or COCO .json files (their images). */
export async function calibrationImages(specs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const spec of specs) {
    if (spec.toLowerCase().endsWith('.json')) {
      const coco = loadCocoDataset(await readTextFile(spec), spec);
      const root = dirname(resolve(spec));
      for (const im of coco.images) out.push(resolve(root, im.file_name));
    } else out.push(...(await expandInputs([spec])));
  }
  if (out.length === 0) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `--calibrate ${specs.join(' ')}: no images`, {});
  return out;
}

export interface CalibrationOptions {
  percentile?: number;
  threads?: number;
  /** Called after each image. */
  progress?: (done: number, total: number, file: string) => void;
}

/** Ranges of `observe` over `images` (paths) with the observer model `bytes` (its source named `source`). */
export async function calibrateActivations(bytes: Uint8Array, source: string, observe: readonly string[], images: readonly string[], o: CalibrationOptions = {}): Promise<Map<string, ActivationRange>> {
  const info = parseModelInfo(await readOnnxMetadata(bytesSource(bytes), source), source);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}) });
  } catch (e) {
    throw new EmsegError('EMSEG_MODEL_LOAD', `${source}: ONNX Runtime cannot load the model for calibration: ${(e as Error).message.split('\n')[0]}`, { file: source, cause: e });
  }
  const ranges = new ActivationRanges(o.percentile);
  // Every tile's run also records the observed tensors (the pipeline reads the contract's outputs).
  const observing: SessionLike<ort.Tensor> = {
    run: async (feeds) => {
      const out = await session.run(feeds);
      for (const name of observe) ranges.observe(name, out[name].data as Float32Array);
      return out;
    },
  };
  try {
    let done = 0;
    for (const file of images) {
      const image = await readImage(file);
      const runTile = sessionTileRunner(observing, (type, data, dims) => new ort.Tensor(type, data, dims), info, { image: file, model: source, runtime: 'ONNX Runtime' });
      await detectImage(image, info, runTile, {}, file);
      o.progress?.(++done, images.length, file);
    }
  } finally {
    await session.release();
  }
  return ranges.ranges();
}
