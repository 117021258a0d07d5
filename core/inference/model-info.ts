import { EmsegError } from '../errors.ts';
import { DEFAULT_NORMALIZATION, type PercentileNormalization, checkNormalization } from '../preprocess/normalize.ts';

/**
 * What an exported emseg model says about itself (ONNX metadata_props, docs/model-format.md): the
 * task, class names, the input normalisation, the pixel size it was trained at and the input size
 * divisor. Both SDKs read it the same way.
 */
export type ModelTask = 'rotated-detection' | 'instance-segmentation';

export interface ModelInfo {
  task: ModelTask;
  classes: string[];
  normalization: PercentileNormalization;
  /** nm per pixel of the training images; null when they were not calibrated. */
  pixelSizeNm: number | null;
  /** H and W of the input must be multiples of this. */
  inputDivisor: number;
  /** Side of the mask outputs (instance segmentation). */
  maskResolution: number | null;
  metrics: unknown;
  version: string;
}

function parseJson(source: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: not an emseg model (metadata ${key} is missing; export it with emseg-export)`, { file: source, path: key });
  try {
    return JSON.parse(text);
  } catch {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: metadata ${key} is not JSON: ${text.slice(0, 80)}`, { file: source, path: key });
  }
}

/** Parse and check the metadata of a model file (`source` names it in errors). */
export function parseModelInfo(metadata: Readonly<Record<string, string>>, source: string): ModelInfo {
  const task = metadata['emseg.task'];
  if (task !== 'rotated-detection' && task !== 'instance-segmentation') {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${source}: ${task === undefined ? 'not an emseg model (no emseg.task metadata)' : `task ${JSON.stringify(task)} is not one emseg runs`}`, { file: source, path: 'emseg.task' });
  }
  const classes = parseJson(source, 'emseg.classes', metadata['emseg.classes']);
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c.length > 0)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.classes must be a non-empty list of names`, { file: source, path: 'emseg.classes' });
  }
  const normalization = metadata['emseg.normalization'] === undefined ? DEFAULT_NORMALIZATION : (parseJson(source, 'emseg.normalization', metadata['emseg.normalization']) as PercentileNormalization);
  try {
    checkNormalization(normalization);
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.normalization: ${(e as Error).message}`, { file: source, path: 'emseg.normalization', cause: e });
  }
  const pixel = metadata['emseg.pixel_size_nm'] === undefined ? null : parseJson(source, 'emseg.pixel_size_nm', metadata['emseg.pixel_size_nm']);
  if (pixel !== null && !(typeof pixel === 'number' && pixel > 0 && Number.isFinite(pixel))) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.pixel_size_nm must be a positive number or null, got ${JSON.stringify(pixel)}`, { file: source, path: 'emseg.pixel_size_nm' });
  }
  const divisor = Number(metadata['emseg.input_divisor'] ?? '32');
  if (!Number.isInteger(divisor) || divisor < 1) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.input_divisor must be a positive integer`, { file: source, path: 'emseg.input_divisor' });
  const maskResolution = task === 'instance-segmentation' ? Number(metadata['emseg.mask_resolution'] ?? '28') : null;
  if (maskResolution !== null && !(Number.isInteger(maskResolution) && maskResolution > 0)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.mask_resolution must be a positive integer`, { file: source, path: 'emseg.mask_resolution' });
  }
  let metrics: unknown;
  try {
    metrics = JSON.parse(metadata['emseg.metrics'] ?? 'null');
  } catch {
    metrics = null; // informational only
  }
  return { task, classes: classes as string[], normalization, pixelSizeNm: pixel as number | null, inputDivisor: divisor, maskResolution, metrics, version: metadata['emseg.version'] ?? 'unknown' };
}
