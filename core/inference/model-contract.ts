import { EmsegError } from '../errors.ts';
import { DEFAULT_NORMALIZATION, type PercentileNormalization, checkNormalization } from '../preprocess/normalize.ts';

/**
 * The emseg model contract (docs/model-format.md), written once: the tasks, the input and output
 * tensor names, and the metadata keys that `emseg-export` writes and both SDKs read. Nothing else in
 * the code base spells these strings.
 */
export const MODEL_TASKS = ['rotated-detection', 'instance-segmentation'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];
export const isModelTask = (v: unknown): v is ModelTask => (MODEL_TASKS as readonly unknown[]).includes(v);

/** Inputs: `image` float32 [N, 1, H, W] in [0, 1] (H, W multiples of the divisor), `image_size` int64 [N, 2] (valid h, w). */
export const MODEL_INPUTS = { image: 'image', imageSize: 'image_size' } as const;

/** Outputs per task, padded to K detections per image; `count` [N] says how many rows are real. */
export const MODEL_OUTPUTS = {
  'rotated-detection': ['rboxes', 'boxes', 'scores', 'labels', 'count'],
  'instance-segmentation': ['boxes', 'scores', 'labels', 'masks', 'count'],
} as const satisfies Record<ModelTask, readonly string[]>;
export type ModelOutputName = (typeof MODEL_OUTPUTS)[ModelTask][number];
/** The outputs every emseg detector has, whatever its task. */
export const COMMON_OUTPUTS = ['count', 'boxes', 'scores', 'labels'] as const;

/** metadata_props keys. */
export const METADATA_KEYS = {
  task: 'emseg.task',
  classes: 'emseg.classes',
  normalization: 'emseg.normalization',
  pixelSizeNm: 'emseg.pixel_size_nm',
  version: 'emseg.version',
  metrics: 'emseg.metrics',
  licence: 'emseg.training_data_licence',
  inputDivisor: 'emseg.input_divisor',
  maskResolution: 'emseg.mask_resolution',
  inference: 'emseg.inference',
} as const;
export const DEFAULT_INPUT_DIVISOR = 32;
export const DEFAULT_MASK_RESOLUTION = 28;

/** What an exported emseg model says about itself (its metadata_props). Both SDKs read it the same way. */
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
  const task = metadata[METADATA_KEYS.task];
  if (!isModelTask(task)) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${source}: ${task === undefined ? 'not an emseg model (no emseg.task metadata)' : `task ${JSON.stringify(task)} is not one emseg runs`}`, { file: source, path: METADATA_KEYS.task });
  }
  const classes = parseJson(source, METADATA_KEYS.classes, metadata[METADATA_KEYS.classes]);
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c.length > 0)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.classes must be a non-empty list of names`, { file: source, path: METADATA_KEYS.classes });
  }
  const normalization = metadata[METADATA_KEYS.normalization] === undefined ? DEFAULT_NORMALIZATION : (parseJson(source, METADATA_KEYS.normalization, metadata[METADATA_KEYS.normalization]) as PercentileNormalization);
  try {
    checkNormalization(normalization);
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.normalization: ${(e as Error).message}`, { file: source, path: METADATA_KEYS.normalization, cause: e });
  }
  const pixel = metadata[METADATA_KEYS.pixelSizeNm] === undefined ? null : parseJson(source, METADATA_KEYS.pixelSizeNm, metadata[METADATA_KEYS.pixelSizeNm]);
  if (pixel !== null && !(typeof pixel === 'number' && pixel > 0 && Number.isFinite(pixel))) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.pixel_size_nm must be a positive number or null, got ${JSON.stringify(pixel)}`, { file: source, path: METADATA_KEYS.pixelSizeNm });
  }
  const divisor = Number(metadata[METADATA_KEYS.inputDivisor] ?? String(DEFAULT_INPUT_DIVISOR));
  if (!Number.isInteger(divisor) || divisor < 1) throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.input_divisor must be a positive integer`, { file: source, path: METADATA_KEYS.inputDivisor });
  const maskResolution = task === 'instance-segmentation' ? Number(metadata[METADATA_KEYS.maskResolution] ?? String(DEFAULT_MASK_RESOLUTION)) : null;
  if (maskResolution !== null && !(Number.isInteger(maskResolution) && maskResolution > 0)) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${source}: emseg.mask_resolution must be a positive integer`, { file: source, path: METADATA_KEYS.maskResolution });
  }
  let metrics: unknown;
  try {
    metrics = JSON.parse(metadata[METADATA_KEYS.metrics] ?? 'null');
  } catch {
    metrics = null; // informational only
  }
  return { task, classes: classes as string[], normalization, pixelSizeNm: pixel as number | null, inputDivisor: divisor, maskResolution, metrics, version: metadata[METADATA_KEYS.version] ?? 'unknown' };
}
