import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { EmsegError, invalidArgument } from '../core/errors.ts';
import type { EmImage, PixelArray } from '../core/formats/types.ts';
import { type Detection, type ImageOutputs, readDetections, toInstance } from '../core/inference/detections.ts';
import { cropPadded, resampleBilinear } from '../core/inference/input.ts';
import { type ModelInfo, parseModelInfo } from '../core/inference/model-info.ts';
import { ownedByTile, planTiles } from '../core/inference/tiling.ts';
import type { ImageResult, Instance } from '../core/inference/types.ts';
import { normalizeImage } from '../core/preprocess/normalize.ts';
import { MAX_PIXELS } from '../core/formats/limits.ts';
import { readImage, readImageBytes } from './read-image.ts';
import { resolveZooModel } from './zoo.ts';
import { decodeModel } from '../export/onnx/model.ts';

/**
 * `new Detector('vesicle-large' | 'model.onnx').run(image)`: an exported emseg model in
 * onnxruntime-node. One session, created on first use; the CUDA execution provider when
 * onnxruntime-node's CUDA libraries are installed (docs/gpu.md), else the CPU with a one-line notice.
 *
 * run(): decode (any format emseg reads) -> percentile normalisation over the whole image ->
 * resampling to the model's pixel size when both are calibrated -> tiles (large images) padded to
 * the model's divisor -> ONNX Runtime -> detections mapped back to image pixels, each owned by one
 * tile -> masks (RLE) and measurements in nm.
 */
export type DetectorInput = string | Uint8Array | EmImage | { data: PixelArray; width: number; height: number; pixelSize?: { x: number; y: number } | null };

export interface TileOptions {
  /** Tile side in model pixels (default 1024). Images no larger run whole. */
  size?: number;
  /** Overlap of neighbouring tiles (default 128): objects up to this size are never cut. */
  overlap?: number;
}

/** Tiling when DetectorOptions.tile is not given. */
export const DEFAULT_TILE = { size: 1024, overlap: 128 } as const;
/** DetectorOptions.scoreThreshold when not given. */
export const DEFAULT_SCORE_THRESHOLD = 0.5;

export interface DetectorOptions {
  /** onnxruntime-node execution providers; default: CUDA when installed, else CPU. */
  executionProviders?: string[];
  /** Intra-op threads of the session (default: ONNX Runtime's choice, all cores). */
  threads?: number;
  /** Keep detections with score >= this (default 0.5; the model itself keeps > its export threshold). */
  scoreThreshold?: number;
  /** Tiling of large images; false runs every image whole. */
  tile?: TileOptions | false;
  /** Resample images to the model's pixel size when both are calibrated (default true). */
  rescale?: boolean;
  /** Only these classes (names); default all the model has. Zoo aliases set it. */
  classes?: string[];
  /** Where notices go (default: stderr). */
  log?: (line: string) => void;
}

export interface BatchItem {
  input: DetectorInput;
  /** Index in the inputs. */
  index: number;
  result?: ImageResult;
  error?: Error;
}

const require = createRequire(import.meta.url);

/** Whether onnxruntime-node's CUDA provider library is installed next to its binding. */
export function cudaInstalled(): boolean {
  try {
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    const bin = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

function inputName(input: DetectorInput, index?: number): string {
  if (typeof input === 'string') return input;
  return index === undefined ? 'image' : `image #${index}`;
}

function isPixelImage(v: unknown): v is { data: PixelArray; width: number; height: number; pixelSize?: { x: number; y: number } | null; format?: string; dtype?: string } {
  return typeof v === 'object' && v !== null && 'data' in v && 'width' in v && 'height' in v;
}

export class Detector {
  readonly modelPath: string;
  private readonly options: DetectorOptions;
  private session: Promise<{ session: ort.InferenceSession; info: ModelInfo; provider: string }> | null = null;
  private readonly log: (line: string) => void;
  private readonly aliasClasses: string[] | undefined;

  constructor(model: string, options: DetectorOptions = {}) {
    const zoo = resolveZooModel(model);
    this.modelPath = zoo ? zoo.file : model;
    this.aliasClasses = options.classes ?? zoo?.classes;
    this.options = options;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    if (options.scoreThreshold !== undefined && !(options.scoreThreshold >= 0 && options.scoreThreshold <= 1)) throw invalidArgument('scoreThreshold', 'a number in [0, 1]', options.scoreThreshold);
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads > 0)) throw invalidArgument('threads', 'a positive integer', options.threads);
  }

  /** The classes this detector reports when restricted (a zoo alias or options.classes); else undefined. */
  get classes(): string[] | undefined {
    return this.aliasClasses;
  }

  /** The model's metadata (task, classes, pixel size, ...); opens the model if needed. */
  async info(): Promise<ModelInfo> {
    return (await this.open()).info;
  }

  /** The execution provider the session runs on ('cuda' or 'cpu'). */
  async provider(): Promise<string> {
    return (await this.open()).provider;
  }

  private open(): Promise<{ session: ort.InferenceSession; info: ModelInfo; provider: string }> {
    this.session ??= this.create();
    return this.session;
  }

  private async create(): Promise<{ session: ort.InferenceSession; info: ModelInfo; provider: string }> {
    const path = this.modelPath;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new EmsegError('EMSEG_FILE_READ', `${path}: cannot read the model (${code === 'ENOENT' ? 'no such file; zoo names: see model-zoo/README.md' : (e as Error).message})`, { file: path, cause: e });
    }
    const base: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', ...(this.options.threads ? { intraOpNumThreads: this.options.threads, interOpNumThreads: 1 } : {}) };
    const wanted = this.options.executionProviders ?? (cudaInstalled() ? ['cuda', 'cpu'] : ['cpu']);
    let session: ort.InferenceSession;
    let provider = wanted[0];
    try {
      session = await ort.InferenceSession.create(bytes, { ...base, executionProviders: wanted });
    } catch (e) {
      if (wanted[0] !== 'cuda' || this.options.executionProviders) throw this.modelError(e);
      this.log(`emseg: CUDA execution provider unavailable (${(e as Error).message.split('\n')[0]}); running on the CPU`);
      provider = 'cpu';
      session = await ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cpu'] }).catch((err: unknown) => {
        throw this.modelError(err);
      });
    }
    if (provider === 'cpu' && !this.options.executionProviders) this.log('emseg: running on the CPU (onnxruntime-node without CUDA libraries; see docs/gpu.md to use a GPU)');
    const metadata = await this.readMetadata(bytes);
    const info = parseModelInfo(metadata, path);
    for (const c of this.aliasClasses ?? []) {
      if (!info.classes.includes(c)) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${path}: the model has no class "${c}" (it has ${info.classes.join(', ')})`, { file: path });
    }
    return { session, info, provider };
  }

  /** metadata_props through emseg's own ONNX reader (onnxruntime-node's API does not expose them). */
  private async readMetadata(bytes: Uint8Array): Promise<Record<string, string>> {
    const model = decodeModel(bytes, this.modelPath);
    return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  }

  private modelError(e: unknown): EmsegError {
    return new EmsegError('EMSEG_MODEL_LOAD', `${this.modelPath}: ONNX Runtime cannot load the model: ${(e as Error).message.split('\n')[0]}`, { file: this.modelPath, cause: e });
  }

  /** Decode an input to an image. */
  async decode(input: DetectorInput, name = inputName(input)): Promise<EmImage> {
    if (typeof input === 'string') return readImage(input);
    if (input instanceof Uint8Array) return readImageBytes(input, name);
    if (isPixelImage(input)) {
      const { width, height, data } = input;
      if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw invalidArgument(`${name} size`, 'positive integer width and height', [width, height]);
      if (!data || data.length !== width * height) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: ${data?.length ?? 0} pixel values for a ${width} x ${height} image`, { file: name });
      if (typeof input.format === 'string' && typeof input.dtype === 'string') return input as EmImage;
      return { format: 'array', dtype: 'float32', metadata: {}, width, height, data, pixelSize: input.pixelSize ?? null };
    }
    throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${name}: expected a path, file bytes, or { data, width, height }`, { file: name });
  }

  /** Detect and measure every object of one image. */
  async run(input: DetectorInput): Promise<ImageResult> {
    const image = await this.decode(input);
    return this.runDecoded(image, inputName(input));
  }

  /** `run` on an image already decoded (see `decode`): the part that needs the model. */
  async runDecoded(image: EmImage, name = 'image'): Promise<ImageResult> {
    const { session, info } = await this.open();
    const timing = { preprocess: 0, inference: 0, postprocess: 0 };
    let t = performance.now();
    // In [0, 1]; NaN pixels (float images) come out as 0, background.
    const normalized = normalizeImage(image, info.normalization).data;
    // Model pixels per image pixel: resample when both are calibrated and differ by > 2 %.
    let factor = 1;
    if (this.options.rescale !== false && info.pixelSizeNm && image.pixelSize) {
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
    const tile = this.options.tile === false ? { size: Math.max(width, height), overlap: 0 } : { size: this.options.tile?.size ?? DEFAULT_TILE.size, overlap: this.options.tile?.overlap ?? DEFAULT_TILE.overlap };
    // A tile never larger than the image, its overlap below its size (planTiles' contract).
    const tileSize = Math.min(tile.size, Math.max(width, height));
    const tiles = planTiles(width, height, tileSize, Math.min(tile.overlap, tileSize - 1));
    timing.preprocess += performance.now() - t;
    const detections: Detection[] = [];
    const threshold = this.options.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD;
    const keepClass = this.aliasClasses ? new Set(this.aliasClasses.map((c) => info.classes.indexOf(c))) : null;
    for (const tl of tiles) {
      t = performance.now();
      const x = cropPadded(data, width, tl.x, tl.y, tl.width, tl.height, info.inputDivisor);
      timing.preprocess += performance.now() - t;
      t = performance.now();
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run({
          image: new ort.Tensor('float32', x.data, [1, 1, x.paddedHeight, x.paddedWidth]),
          image_size: new ort.Tensor('int64', BigInt64Array.from([BigInt(x.height), BigInt(x.width)]), [1, 2]),
        });
      } catch (e) {
        throw new EmsegError('EMSEG_MODEL_RUN', `${name}: ONNX Runtime failed running ${this.modelPath} on a ${x.width} x ${x.height} tile: ${(e as Error).message.split('\n')[0]}`, { file: name, cause: e });
      }
      // The model contract's outputs (docs/model-format.md): a file without them is not an emseg model.
      for (const k of ['count', 'boxes', 'scores', 'labels'] as const) {
        if (!out[k]) throw new EmsegError('EMSEG_MODEL_RUN', `${this.modelPath}: the model has no output "${k}" (outputs: ${Object.keys(out).join(', ')}); not an emseg detector (docs/model-format.md)`, { file: this.modelPath });
      }
      timing.inference += performance.now() - t;
      t = performance.now();
      const rows: ImageOutputs = {
        count: Number((out.count.data as BigInt64Array)[0]),
        boxes: out.boxes.data as Float32Array,
        scores: out.scores.data as Float32Array,
        labels: out.labels.data as BigInt64Array,
        ...(out.rboxes ? { rboxes: out.rboxes.data as Float32Array } : {}),
        ...(out.masks ? { masks: out.masks.data as Float32Array, maskResolution: info.maskResolution ?? out.masks.dims[3] } : {}),
      };
      for (const d of readDetections(rows, { offsetX: tl.x, offsetY: tl.y, scale: 1 / factor })) {
        if (d.score < threshold || (keepClass && !keepClass.has(d.classIndex))) continue;
        // Ownership by box centre in model space (the tiles partition it).
        const cx = ((d.box[0] + d.box[2]) / 2) * factor, cy = ((d.box[1] + d.box[3]) / 2) * factor;
        if (tiles.length === 1 || ownedByTile(tl, cx, cy)) detections.push(d);
      }
      for (const v of Object.values(out)) (v as { dispose?: () => void }).dispose?.();
      timing.postprocess += performance.now() - t;
    }
    t = performance.now();
    detections.sort((a, b) => b.score - a.score);
    const instances: Instance[] = detections.map((d) => toInstance(d, info, image, info.maskResolution ?? 0));
    timing.postprocess += performance.now() - t;
    this.lastTiming = timing;
    return { width: image.width, height: image.height, pixelSize: image.pixelSize, instances };
  }

  /** Milliseconds per stage of the last `run` (benchmarks). */
  lastTiming: { preprocess: number; inference: number; postprocess: number } | null = null;

  /**
   * Results of many inputs, in input order, as they finish: decoding runs ahead of inference
   * (`concurrency` images in flight, default 2). A bad input yields an item with `error` and the
   * batch goes on.
   */
  async *runBatch(inputs: Iterable<DetectorInput> | AsyncIterable<DetectorInput>, options: { concurrency?: number } = {}): AsyncGenerator<BatchItem> {
    const concurrency = options.concurrency ?? 2;
    if (!(Number.isInteger(concurrency) && concurrency > 0)) throw invalidArgument('concurrency', 'a positive integer', concurrency);
    await this.open();
    const pending: Promise<BatchItem>[] = [];
    let index = 0;
    const start = (input: DetectorInput, i: number): Promise<BatchItem> => this.run(input).then(
      (result) => ({ input, index: i, result }),
      (error: unknown) => ({ input, index: i, error: error instanceof Error ? error : new Error(String(error)) }),
    );
    for await (const input of inputs) {
      pending.push(start(input, index++));
      if (pending.length >= concurrency) yield await (pending.shift() as Promise<BatchItem>);
    }
    while (pending.length > 0) yield await (pending.shift() as Promise<BatchItem>);
  }

  /** Release the session. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await (await s.catch(() => null))?.session.release();
  }
}
