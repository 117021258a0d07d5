import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EmsegError, invalidArgument } from '../core/errors.ts';
import { seededRandom } from '../core/random.ts';
import { writeFileAtomic } from '../sdk-node/write-file.ts';
import { twoStageDefaults } from '../model/detection/config.ts';
import { type ConfigOverrides, type TrainOptions, trainDetector } from './train.ts';

/**
 * `emseg tune`: random search over the settings that matter most for small EM datasets (learning
 * rate and warm-up, anchor scale and aspect ratios, RPN and RoI sampling, augmentation strength and
 * schedule length). Trials are drawn from a seeded generator in order, so trial k has the same
 * settings whether or not the search was interrupted; each trial is an ordinary `emseg train` run
 * in OUT/trial-k (itself resumable), and OUT/tune.json records finished trials, so a killed search
 * resumes where it stopped. Trials are scored by their best validation AP (segm or rbox).
 */
export interface TuneOptions {
  base: Omit<TrainOptions, 'out' | 'maxSteps' | 'lr' | 'warmup' | 'augment' | 'config'> & { config?: ConfigOverrides; augment?: TrainOptions['augment'] };
  out: string;
  trials: number;
  /** Longest schedule a trial may draw (steps). */
  maxSteps: number;
  seed: number;
  /** Run only this trial (an array task: `emseg tune --trial auto`); `emseg merge OUT` writes the tables. */
  only?: number;
  progress?: (line: string) => void;
}

/** OUT/tune-manifest.json: what every trial of a search shares, so array tasks and merge agree. */
export interface TuneManifest {
  format: 'emseg-tune-manifest-1';
  trials: number;
  seed: number;
  maxSteps: number;
  config: ConfigOverrides | null;
}

export interface TrialSettings {
  lr: number;
  warmup: number;
  steps: number;
  anchorScale: number;
  anchorRatios: number[];
  rpnPositiveFraction: number;
  roiBatchPerImage: number;
  roiPositiveFraction: number;
  augmentStrength: number;
  geometric: boolean;
  /** Free-rotation range in degrees (0 = none) and scale jitter of the warp (training/data/affine.ts). */
  rotate: number;
  scaleJitter: number;
}

export interface TrialResult {
  trial: number;
  settings: TrialSettings;
  AP: number;
  AP50: number;
  steps: number;
  seconds: number;
}

const BASE_ANCHORS = [16, 32, 64, 128];

/** Trial k's settings (k = 0, 1, ...): a pure function of the search seed and k. */
export function drawTrial(seed: number, k: number, maxSteps: number): TrialSettings {
  const rand = seededRandom(seed * 1000003 + k);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)];
  return {
    lr: +(0.003 * 10 ** rand()).toPrecision(3), // log-uniform 0.003 to 0.03
    warmup: pick([50, 100, 200]),
    steps: Math.max(1, Math.round(maxSteps * pick([0.5, 0.75, 1]))),
    anchorScale: pick([0.75, 1, 1.5]),
    anchorRatios: pick([[0.5, 1, 2], [0.25, 0.5, 1, 2, 4]]),
    rpnPositiveFraction: pick([0.25, 0.5]),
    roiBatchPerImage: pick([128, 256, 512]),
    roiPositiveFraction: pick([0.25, 0.5]),
    augmentStrength: +(1.5 * rand()).toFixed(2),
    geometric: rand() < 0.8,
    rotate: pick([0, 180]),
    scaleJitter: pick([0, 0.25]),
  };
}

/** The train options of a trial (base options with the trial's settings). */
export function trialOptions(o: TuneOptions, k: number, s: TrialSettings): TrainOptions {
  const base = o.base.config ?? {};
  const defaults = twoStageDefaults([]);
  const config = {
    ...base,
    anchorSizes: BASE_ANCHORS.map((a) => a * s.anchorScale),
    anchorRatios: s.anchorRatios,
    // train merges the config shallowly: nested groups are completed from the defaults here.
    rpn: { ...defaults.rpn, ...base.rpn, positiveFraction: s.rpnPositiveFraction },
    roi: { ...defaults.roi, ...base.roi, batchPerImage: s.roiBatchPerImage, positiveFraction: s.roiPositiveFraction },
  } as ConfigOverrides;
  return {
    ...o.base,
    out: join(o.out, `trial-${k}`),
    maxSteps: s.steps,
    lr: s.lr,
    warmup: Math.min(s.warmup, Math.max(1, Math.floor(s.steps / 2))),
    augment: { geometric: s.geometric, strength: s.augmentStrength, warp: { rotate: s.rotate ?? 0, scale: s.scaleJitter ?? 0, probability: 0.5 } },
    config,
    evalPeriod: s.steps, // one validation at the end: the score
  };
}

function readState(file: string): TrialResult[] {
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { trials?: TrialResult[] };
  return parsed.trials ?? [];
}

const fmt = (v: number): string => (v < 0 ? 'n/a' : v.toFixed(3));

/** Markdown table of the trials, best first. */
export function resultsTable(results: readonly TrialResult[]): string {
  const rows = [...results].sort((a, b) => b.AP - a.AP || a.trial - b.trial).map((r) => {
    const s = r.settings;
    return `| ${r.trial} | ${fmt(r.AP)} | ${fmt(r.AP50)} | ${s.lr} | ${s.warmup} | ${s.steps} | ${s.anchorScale} | ${s.anchorRatios.join('/')} | ${s.rpnPositiveFraction} | ${s.roiBatchPerImage} | ${s.roiPositiveFraction} | ${s.augmentStrength} | ${s.geometric ? 'yes' : 'no'} | ${s.rotate ?? 0} | ${s.scaleJitter ?? 0} | ${Math.round(r.seconds)} |`;
  });
  return ['| trial | val AP | AP50 | lr | warm-up | steps | anchor scale | ratios | RPN pos. | RoIs/image | RoI pos. | aug. strength | flips/rot90 | rotation | scale jitter | s |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

export async function tune(o: TuneOptions): Promise<{ results: TrialResult[]; best: TrialResult | null }> {
  if (!(Number.isInteger(o.trials) && o.trials > 0)) throw invalidArgument('trials', 'a positive integer', o.trials);
  if (!o.base.val) throw invalidArgument('val', 'a validation set (trials are scored on it)', o.base.val);
  if (o.only !== undefined && !(Number.isInteger(o.only) && o.only >= 0 && o.only < o.trials)) throw invalidArgument('trial', `an integer from 0 to ${o.trials - 1}`, o.only);
  await mkdir(o.out, { recursive: true });
  const manifest = await freezeTuneManifest(o);
  const stateFile = join(o.out, 'tune.json');
  const results = o.only === undefined ? readState(stateFile) : [];
  const log = o.progress ?? (() => {});
  if (results.length > 0) log(`tune: ${results.length} of ${o.trials} trials already done`);
  for (let k = 0; k < o.trials; k++) {
    if (o.only !== undefined && k !== o.only) continue;
    if (results.some((r) => r.trial === k)) continue;
    const recorded = readTrialResult(o.out, k);
    if (recorded) {
      results.push(recorded);
      continue;
    }
    const settings = drawTrial(o.seed, k, o.maxSteps);
    log(`tune: trial ${k + 1}/${o.trials}: ${JSON.stringify(settings)}`);
    const t = performance.now();
    const r = await trainDetector({ ...trialOptions(o, k, settings), progress: (line) => log(`  [trial ${k}] ${line}`) });
    const best = (r.best ?? {}) as { AP?: number; AP50?: number };
    const result: TrialResult = { trial: k, settings, AP: best.AP ?? -1, AP50: best.AP50 ?? -1, steps: r.step, seconds: (performance.now() - t) / 1000 };
    // Each trial's own record (array tasks write no shared file); tune.json gathers them.
    await writeFileAtomic(trialResultFile(o.out, k), `${JSON.stringify(result, null, 1)}\n`);
    results.push(result);
    results.sort((a, b) => a.trial - b.trial);
    if (o.only === undefined) await writeFileAtomic(stateFile, `${JSON.stringify({ seed: o.seed, maxSteps: o.maxSteps, trials: results }, null, 1)}\n`);
  }
  if (o.only !== undefined) return { results, best: null };
  return { results, best: await writeTuneSummary(o.out, manifest, results) };
}

const trialResultFile = (out: string, k: number): string => join(out, `trial-${k}`, 'trial-result.json');

function readTrialResult(out: string, k: number): TrialResult | null {
  try {
    const r = JSON.parse(readFileSync(trialResultFile(out, k), 'utf8')) as TrialResult;
    return r.trial === k && typeof r.AP === 'number' ? r : null;
  } catch {
    return null;
  }
}

/** OUT/tune-manifest.json; null when there is none; a file that is not one is EMSEG_FORMAT_BAD_HEADER. */
export function readTuneManifest(out: string): TuneManifest | null {
  const file = join(out, 'tune-manifest.json');
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as TuneManifest;
    if (m?.format !== 'emseg-tune-manifest-1' || !Number.isInteger(m.trials) || m.trials < 1) throw new Error('not an emseg tune manifest');
    return m;
  } catch (e) {
    throw new EmsegError('EMSEG_FORMAT_BAD_HEADER', `${file}: ${(e as Error).message}`, { file, cause: e });
  }
}

/** The first run writes the manifest; a run with another search (trials, seed, schedule, config) is refused. */
async function freezeTuneManifest(o: TuneOptions): Promise<TuneManifest> {
  const wanted: TuneManifest = { format: 'emseg-tune-manifest-1', trials: o.trials, seed: o.seed, maxSteps: o.maxSteps, config: o.base.config ?? null };
  const existing = readTuneManifest(o.out);
  if (!existing) {
    await writeFileAtomic(join(o.out, 'tune-manifest.json'), `${JSON.stringify(wanted, null, 1)}\n`);
    return wanted;
  }
  for (const key of ['trials', 'seed', 'maxSteps', 'config'] as const) {
    if (JSON.stringify(existing[key]) !== JSON.stringify(wanted[key])) {
      throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${o.out} holds a search with another ${key} (${JSON.stringify(existing[key])}, this run: ${JSON.stringify(wanted[key])}); use another --out`, { file: join(o.out, 'tune-manifest.json') });
    }
  }
  return existing;
}

/** results.md and best-config.json from all trials' results. */
async function writeTuneSummary(out: string, m: TuneManifest, results: TrialResult[]): Promise<TrialResult | null> {
  const best = [...results].sort((a, b) => b.AP - a.AP || a.trial - b.trial)[0] ?? null;
  await writeFileAtomic(join(out, 'results.md'), `${resultsTable(results)}\n`);
  if (best) {
    const opts = trialOptions({ base: { config: m.config ?? undefined } as TuneOptions['base'], out, trials: m.trials, maxSteps: m.maxSteps, seed: m.seed }, best.trial, best.settings);
    const bestConfig = { trial: best.trial, valAP: best.AP, lr: opts.lr, warmup: opts.warmup, maxSteps: opts.maxSteps, augment: opts.augment, config: opts.config };
    await writeFileAtomic(join(out, 'best-config.json'), `${JSON.stringify(bestConfig, null, 1)}\n`);
  }
  return best;
}

/**
 * `emseg merge OUT` for a search run as array tasks: every trial's record gathered into tune.json,
 * results.md and best-config.json; missing trials listed (with the --array spec) and nothing written.
 * Null when OUT holds no tune manifest (not a tune folder).
 */
export async function mergeTune(out: string): Promise<{ results: TrialResult[]; best: TrialResult | null; missing: number[] } | null> {
  const m = readTuneManifest(out);
  if (!m) return null;
  const results: TrialResult[] = [];
  const missing: number[] = [];
  for (let k = 0; k < m.trials; k++) {
    const r = readTrialResult(out, k);
    if (r) results.push(r);
    else missing.push(k);
  }
  if (missing.length > 0) return { results, best: null, missing };
  await writeFileAtomic(join(out, 'tune.json'), `${JSON.stringify({ seed: m.seed, maxSteps: m.maxSteps, trials: results }, null, 1)}\n`);
  return { results, best: await writeTuneSummary(out, m, results), missing };
}
