import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EmsegError, previewJson } from '../../core/errors.ts';
import { MODEL_TASKS, type ModelTask } from '../../core/inference/model-contract.ts';
import { type CheckpointManifest, loadCheckpoint } from '../../model/checkpoint.ts';
import type { RotatedRcnnConfig } from '../../model/detection/config.ts';
import type { MaskRcnnConfig } from '../../model/detection/mask-config.ts';
import { modelSpecs } from '../../model/detection/model-specs.ts';
import { type NetSpec, paramsOf } from '../../model/net/spec.ts';
import type { SpecWeights } from '../net/index.ts';

/**
 * Reading a detector checkpoint for export (no tfjs): the manifest, a config checked field by field
 * (so a foreign or truncated checkpoint fails with an EmsegError naming what is missing, not with a
 * TypeError deep in the graph builder) and the parameters split into the networks' weights, in the
 * order training writes them (paramsOf(backbone), paramsOf(box head), then for Mask R-CNN
 * paramsOf(mask head)).
 */
export type DetectorTask = ModelTask;
const DETECTOR_TASKS = MODEL_TASKS;

/** A detector's checked config, its networks and their weights: what the graph builder needs. */
export interface DetectorNetworks {
  config: RotatedRcnnConfig | MaskRcnnConfig;
  backbone: NetSpec;
  head: NetSpec;
  /** Mask R-CNN's mask head (instance-segmentation only). */
  maskHead?: NetSpec;
  /** The rotated detector's second stage (config.rotatedStage). */
  rotatedHead?: NetSpec;
  /** Parameters of the networks by name (tfjs layouts), views into one buffer. */
  weights: SpecWeights;
}

export interface DetectorCheckpoint extends DetectorNetworks {
  dir: string;
  manifest: CheckpointManifest;
  task: DetectorTask;
  paramCount: number;
}

type Check = (value: unknown) => boolean;

const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isPositiveInt: Check = (v) => Number.isInteger(v) && (v as number) > 0;
/**
 * Sizes that shape the networks are bounded before the networks are built: a corrupt config could
 * otherwise ask for 2^53 residual blocks (a loop that never ends) or 2^40-channel layers. The
 * bounds are far above any detector emseg trains (ResNet-101 has 23 blocks in a stage).
 */
const MAX_BLOCKS = 64;
const MAX_CHANNELS = 8192;
const MAX_POOL = 64;
const intIn = (lo: number, hi: number): Check => (v) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const tuple = (n: number, each: Check): Check => (v) => Array.isArray(v) && v.length === n && v.every(each);
const isProbability: Check = (v) => isNumber(v) && (v as number) >= 0 && (v as number) <= 1;

/** Every field the exporter reads, with what it must be (a path into the config, a test, a description). */
const CONFIG_FIELDS: [string, Check, string][] = [
  ['classes', (v) => Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string' && c.length > 0), 'a non-empty list of class names'],
  ['backbone.widths', tuple(4, intIn(1, MAX_CHANNELS)), `4 integers in 1..${MAX_CHANNELS}`],
  ['backbone.blocks', tuple(4, intIn(1, MAX_BLOCKS)), `4 integers in 1..${MAX_BLOCKS}`],
  ['backbone.norm', (v) => v === 'gn' || v === 'none', '"gn" or "none"'],
  ['fpnChannels', intIn(1, MAX_CHANNELS), `an integer in 1..${MAX_CHANNELS}`],
  ['anchorSizes', tuple(4, (v) => isNumber(v) && (v as number) > 0), '4 positive numbers'],
  ['anchorRatios', (v) => Array.isArray(v) && v.length > 0 && v.every((r) => isNumber(r) && r > 0), 'a non-empty list of positive numbers'],
  ['rpn.preNmsTopKTest', isPositiveInt, 'a positive integer'],
  ['rpn.postNmsTopKTest', isPositiveInt, 'a positive integer'],
  ['rpn.nmsThreshold', isProbability, 'a number in [0, 1]'],
  ['roi.poolSize', intIn(1, MAX_POOL), `an integer in 1..${MAX_POOL}`],
  ['roi.samplingRatio', intIn(0, MAX_POOL), `an integer in 0..${MAX_POOL}`],
  ['roi.fcDim', intIn(1, MAX_CHANNELS), `an integer in 1..${MAX_CHANNELS}`],
  ['test.scoreThreshold', isProbability, 'a number in [0, 1]'],
  ['test.nmsThreshold', isProbability, 'a number in [0, 1]'],
  ['test.detectionsPerImage', isPositiveInt, 'a positive integer'],
];

/** Fields of the rotated detector's optional second stage (checked when config.rotatedStage is present). */
const ROTATED_STAGE_FIELDS: [string, Check, string][] = [
  ['rotatedStage.poolSize', intIn(1, MAX_POOL), `an integer in 1..${MAX_POOL}`],
  ['rotatedStage.samplingRatio', intIn(1, MAX_POOL), `an integer in 1..${MAX_POOL}`],
  ['rotatedStage.extend', tuple(2, (v) => isNumber(v) && (v as number) > 0), '2 positive numbers'],
  ['rotatedStage.scoreWeight', isProbability, 'a number in [0, 1]'],
];

/** Fields only Mask R-CNN has. */
const MASK_FIELDS: [string, Check, string][] = [
  ['mask.poolSize', intIn(1, MAX_POOL), `an integer in 1..${MAX_POOL}`],
  ['mask.numConvs', intIn(0, MAX_BLOCKS), `an integer in 0..${MAX_BLOCKS}`],
  ['mask.convDim', intIn(1, MAX_CHANNELS), `an integer in 1..${MAX_CHANNELS}`],
  ['mask.resolution', intIn(1, 2 * MAX_POOL), `an integer in 1..${2 * MAX_POOL}`],
];

function field(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The checkpoint's config (either task), or an EmsegError listing every bad field. */
export function checkDetectorConfig(config: unknown, file: string): RotatedRcnnConfig | MaskRcnnConfig {
  if (config === null || typeof config !== 'object') {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: the manifest has no "config" object (not a detector checkpoint)`, { file, path: 'config' });
  }
  const task = (config as Record<string, unknown>).task;
  if (!(DETECTOR_TASKS as readonly string[]).includes(task as string)) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${file}: config.task is ${previewJson(task)}; emseg-export writes ${DETECTOR_TASKS.map((t) => `"${t}"`).join(' and ')} models`, { file, path: 'config.task' });
  }
  const problems: string[] = [];
  const extra = task === 'instance-segmentation' ? MASK_FIELDS : field(config, 'rotatedStage') !== undefined ? ROTATED_STAGE_FIELDS : [];
  for (const [path, ok, expected] of [...CONFIG_FIELDS, ...extra]) {
    const v = field(config, path);
    if (v === undefined) problems.push(`config.${path} is missing (expected ${expected})`);
    else if (!ok(v)) problems.push(`config.${path} is ${previewJson(v)} (expected ${expected})`);
  }
  if (task === 'instance-segmentation' && problems.length === 0 && field(config, 'mask.resolution') !== 2 * (field(config, 'mask.poolSize') as number)) {
    // The mask head upsamples its pooled features once (2x deconvolution).
    problems.push(`config.mask.resolution must be 2 x config.mask.poolSize (the mask head's 2x upsampling), got ${previewJson(field(config, 'mask.resolution'))} and ${previewJson(field(config, 'mask.poolSize'))}`);
  }
  if (problems.length > 0) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: incomplete detector config: ${problems.join('; ')}`, { file, path: 'config' });
  }
  return config as RotatedRcnnConfig | MaskRcnnConfig;
}

/**
 * Load and check a detector checkpoint folder: manifest (format, task, config), params.bin
 * (size), and the parameter list against the networks the config describes.
 */
export async function readDetectorCheckpoint(dir: string): Promise<DetectorCheckpoint> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new EmsegError('EMSEG_FILE_READ', `${dir}: no such checkpoint folder`, { file: dir });
  }
  const base = existsSync(join(dir, 'manifest.json')) ? dir : `${dir}.old`;
  if (existsSync(join(base, 'manifest.json')) && !existsSync(join(base, 'params.bin'))) {
    throw new EmsegError('EMSEG_FORMAT_TRUNCATED', `${base}: params.bin is missing (the checkpoint has a manifest but no parameters)`, { file: join(base, 'params.bin') });
  }
  if (existsSync(join(base, 'manifest.json'))) {
    // loadCheckpoint reports unparsable JSON; JSON that is not an object would fail there as a TypeError.
    let parsed: unknown = {};
    try {
      parsed = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8'));
    } catch {
      // left to loadCheckpoint's message
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${join(base, 'manifest.json')}: not a checkpoint manifest (a JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, not an object)`, { file: join(base, 'manifest.json') });
    }
  }
  const { manifest, params } = await loadCheckpoint(dir);
  const manifestFile = join(base, 'manifest.json');
  if (manifest.task !== undefined && !(DETECTOR_TASKS as readonly string[]).includes(manifest.task)) {
    throw new EmsegError('EMSEG_FORMAT_UNSUPPORTED', `${manifestFile}: task ${previewJson(manifest.task)}; emseg-export writes ${DETECTOR_TASKS.map((t) => `"${t}"`).join(' and ')} models`, { file: manifestFile, path: 'task' });
  }
  const config = checkDetectorConfig(manifest.config, manifestFile);
  if (manifest.task !== undefined && manifest.task !== config.task) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${manifestFile}: task ${previewJson(manifest.task)} but config.task ${previewJson(config.task)}`, { file: manifestFile, path: 'task' });
  }
  const specs = modelSpecs(config);
  const [backbone, head, third] = specs;
  const maskHead = config.task === 'instance-segmentation' ? third : undefined;
  const rotatedHead = config.task === 'rotated-detection' ? third : undefined;
  const specParams = specs.flatMap((spec) => paramsOf(spec));
  const expected = specParams.reduce((n, p) => n + p.shape.reduce((a, d) => a * d, 1), 0);
  if (params.length !== expected) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${manifestFile}: the config describes networks with ${expected} parameters, the checkpoint holds ${params.length}`, { file: manifestFile, path: 'paramCount' });
  }
  if (Array.isArray(manifest.params)) {
    const listed = manifest.params;
    const mismatch = specParams.findIndex((p, i) => listed[i]?.name !== p.name || JSON.stringify(listed[i]?.shape) !== JSON.stringify(p.shape));
    if (listed.length !== specParams.length || mismatch >= 0) {
      const i = mismatch >= 0 ? mismatch : Math.min(listed.length, specParams.length);
      throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${manifestFile}: params[${i}] is ${previewJson(listed[i] ?? null, 200)}, the config's networks expect ${previewJson(specParams[i] ? { name: specParams[i].name, shape: specParams[i].shape } : null, 200)}`, { file: manifestFile, path: `params[${i}]` });
    }
  }
  const weights: SpecWeights = new Map();
  let offset = 0;
  for (const p of specParams) {
    const size = p.shape.reduce((a, d) => a * d, 1);
    weights.set(p.name, params.subarray(offset, offset + size));
    offset += size;
  }
  return { dir, manifest, task: config.task, config, backbone, head, ...(maskHead ? { maskHead } : {}), ...(rotatedHead ? { rotatedHead } : {}), weights, paramCount: params.length };
}
