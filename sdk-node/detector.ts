import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { EmsegError, invalidArgument } from '../core/errors.ts';
import type { EmImage, PixelArray } from '../core/formats/types.ts';
import { mapConcurrent, type Settled } from '../core/inference/map-concurrent.ts';
import { type ModelInfo, parseModelInfo } from '../core/inference/model-contract.ts';
import { type ByteSource, readOnnxMetadata } from '../core/inference/onnx-metadata.ts';
import { DEFAULT_SCORE_THRESHOLD, DEFAULT_TILE, type StageTiming, type TileOptions, detectImage } from '../core/inference/pipeline.ts';
import { sessionTileRunner } from '../core/inference/run-tile.ts';
import type { ImageResult } from '../core/inference/types.ts';
import { readImage, readImageBytes } from './read-image.ts';
import { resolveZooModel } from './zoo.ts';

export { DEFAULT_SCORE_THRESHOLD, DEFAULT_TILE, type StageTiming, type TileOptions };

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

/** One input's outcome in a batch: `result` or `error`, and its position in the inputs. */
export type BatchItem = Settled<DetectorInput, ImageResult>;

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
  private session: Promise<{ session: ort.InferenceSession; provider: string }> | null = null;
  private metadata: Promise<ModelInfo> | null = null;
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

  /**
   * The model's metadata (task, classes, pixel size, ...), read from the file's metadata_props
   * without loading the weights or creating a session.
   */
  info(): Promise<ModelInfo> {
    this.metadata ??= this.readInfo();
    return this.metadata;
  }

  /** The execution provider the session runs on ('cuda' or 'cpu'); creates the session. */
  async provider(): Promise<string> {
    return (await this.open()).provider;
  }

  private cannotRead(e: unknown): EmsegError {
    const code = (e as NodeJS.ErrnoException).code;
    return new EmsegError('EMSEG_FILE_READ', `${this.modelPath}: cannot read the model (${code === 'ENOENT' ? 'no such file; zoo names: see model-zoo/README.md' : (e as Error).message})`, { file: this.modelPath, cause: e });
  }

  private async readInfo(): Promise<ModelInfo> {
    const path = this.modelPath;
    const file = await open(path, 'r').catch((e: unknown) => {
      throw this.cannotRead(e);
    });
    let metadata: Record<string, string>;
    try {
      const size = (await file.stat()).size;
      const src: ByteSource = {
        size,
        read: async (offset, length) => {
          const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
          const { bytesRead } = await file.read(buf, 0, buf.length, offset);
          return buf.subarray(0, bytesRead);
        },
      };
      metadata = await readOnnxMetadata(src, path);
    } finally {
      await file.close();
    }
    const info = parseModelInfo(metadata, path);
    for (const c of this.aliasClasses ?? []) {
      if (!info.classes.includes(c)) throw new EmsegError('EMSEG_INVALID_ARGUMENT', `${path}: the model has no class "${c}" (it has ${info.classes.join(', ')})`, { file: path });
    }
    return info;
  }

  private open(): Promise<{ session: ort.InferenceSession; provider: string }> {
    this.session ??= this.create();
    return this.session;
  }

  private async create(): Promise<{ session: ort.InferenceSession; provider: string }> {
    // The contract first: a file that is not an emseg model fails with what is wrong with it, not
    // with whatever ONNX Runtime makes of it.
    await this.info();
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.modelPath));
    } catch (e) {
      throw this.cannotRead(e);
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
    return { session, provider };
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
    return (await this.runTimed(input)).result;
  }

  /** `run`, with the milliseconds each stage took for this image (benchmarks; no shared state). */
  async runTimed(input: DetectorInput): Promise<{ result: ImageResult; timing: StageTiming }> {
    const image = await this.decode(input);
    return this.runDecodedTimed(image, inputName(input));
  }

  /** `run` on an image already decoded (see `decode`): the part that needs the model. */
  async runDecoded(image: EmImage, name = 'image'): Promise<ImageResult> {
    return (await this.runDecodedTimed(image, name)).result;
  }

  /** `runDecoded` with each stage's milliseconds. */
  async runDecodedTimed(image: EmImage, name = 'image'): Promise<{ result: ImageResult; timing: StageTiming }> {
    const [{ session }, info] = await Promise.all([this.open(), this.info()]);
    const runTile = sessionTileRunner(session, (type, data, dims) => new ort.Tensor(type, data, dims), info, { image: name, model: this.modelPath, runtime: 'ONNX Runtime' });
    const o = this.options;
    return detectImage(image, info, runTile, { scoreThreshold: o.scoreThreshold, tile: o.tile, rescale: o.rescale, classes: this.aliasClasses }, name);
  }

  /**
   * Results of many inputs, in input order, as they finish: decoding runs ahead of inference
   * (`concurrency` images in flight, default 2). A bad input yields an item with `error` and the
   * batch goes on.
   */
  async *runBatch(inputs: Iterable<DetectorInput> | AsyncIterable<DetectorInput>, options: { concurrency?: number } = {}): AsyncGenerator<BatchItem> {
    const concurrency = options.concurrency ?? 2;
    if (!(Number.isInteger(concurrency) && concurrency > 0)) throw invalidArgument('concurrency', 'a positive integer', concurrency);
    await this.open();
    yield* mapConcurrent(inputs, (input) => this.run(input), { concurrency, ordered: true });
  }

  /** Release the session. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await (await s.catch(() => null))?.session.release();
  }
}
