import { EmsegError, type EmsegErrorCode } from '../core/errors.ts';
import { mapConcurrent, type Settled } from '../core/inference/map-concurrent.ts';
import type { ModelInfo } from '../core/inference/model-contract.ts';
import { looksLikeZooName } from '../core/inference/zoo.ts';
import type { ImageResult } from '../core/inference/types.ts';
import type { ModelSource, RunOverrides, WebDetectorOptions, WebExecutionProvider, WebImageInput } from './inline-detector.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

/** A request without its id (distributes over the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * `new Detector(url | ArrayBuffer | zoo name, { executionProviders: ['webgpu', 'wasm'] }).run(file)`
 * in a page: the same `ImageResult` as the Node SDK for the same image. The work happens in a module
 * Web Worker (dist/web/emseg-worker.js, next to this script) so the page never freezes; errors come
 * back as `EmsegError`s with their code.
 */
export class Detector {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private readonly ready: Promise<unknown>;

  constructor(model: ModelSource, options: WebDetectorOptions = {}) {
    const { log, ...rest } = options;
    // URLs relative to the page, made absolute before they reach the worker (whose base is its script).
    const page = (globalThis as { document?: { baseURI: string } }).document?.baseURI ?? globalThis.location.href;
    const absolute = (u: string | undefined): string | undefined => (u === undefined ? undefined : new URL(u, page).href);
    const cloneable = { ...rest, zooBase: absolute(rest.zooBase), wasmPaths: absolute(rest.wasmPaths) };
    if (typeof model === 'string' && !looksLikeZooName(model)) model = new URL(model, page).href;
    const notice = log ?? ((line: string) => console.info(line));
    this.worker = new Worker(new URL('./emseg-worker.js', import.meta.url), { type: 'module' });
    this.worker.addEventListener('message', (e: MessageEvent<WorkerReply>) => {
      const m = e.data;
      if ('log' in m) return notice(m.log);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(m.error.code ? new EmsegError(m.error.code as EmsegErrorCode, m.error.message, { file: m.error.file }) : new Error(m.error.message));
      else p.resolve(m.result);
    });
    this.worker.addEventListener('error', (e) => {
      const err = new EmsegError('EMSEG_WORKER_FAILED', `the emseg web worker failed: ${e.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.ready = this.call({ type: 'init', model, options: cloneable });
  }

  private call(request: WithoutId<WorkerRequest>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  /** Task, classes, pixel size... from the model's metadata. */
  async info(): Promise<ModelInfo> {
    await this.ready;
    return (await this.call({ type: 'info' })) as ModelInfo;
  }

  /** The classes it reports: a zoo alias's (vesicle-large: large_vesicle) or options.classes, else all. */
  async reportedClasses(): Promise<string[]> {
    await this.ready;
    return (await this.call({ type: 'classes' })) as string[];
  }

  /** 'webgpu' (after a start-up self-test against WASM) or 'wasm'. */
  async provider(): Promise<WebExecutionProvider> {
    await this.ready;
    return (await this.call({ type: 'provider' })) as WebExecutionProvider;
  }

  /** Detect and measure every object of one image (File, Blob, ArrayBuffer, bytes or a decoded image). */
  async run(input: WebImageInput, name?: string, overrides?: RunOverrides): Promise<ImageResult> {
    await this.ready;
    return (await this.call({ type: 'run', input, name, overrides })) as ImageResult;
  }

  /** Many images, in input order; a bad one yields an item with `error` and the batch goes on. */
  runBatch(inputs: Iterable<WebImageInput> | AsyncIterable<WebImageInput>, options: { concurrency?: number } = {}): AsyncGenerator<Settled<WebImageInput, ImageResult>> {
    return mapConcurrent(inputs, (input) => this.run(input), { concurrency: options.concurrency ?? 2, ordered: true });
  }

  async dispose(): Promise<void> {
    await this.call({ type: 'dispose' }).catch(() => {});
    this.worker.terminate();
  }
}
