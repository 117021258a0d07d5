import { Worker } from 'node:worker_threads';
import { EmsegError, type EmsegErrorCode, invalidArgument } from '../core/errors.ts';
import type { ImageResult } from '../core/inference/types.ts';
import type { BatchItem, DetectorInput, DetectorOptions } from './detector.ts';

/**
 * Several Detectors in worker threads, one image each at a time: throughput on many images grows
 * with the workers because everything per image runs in parallel (decoding, normalisation, ONNX
 * Runtime, mask pasting, measurements), where extra intra-op threads speed up only the network's
 * parallel kernels. Each worker has its own session (intra-op threads: `options.threads`, default 1).
 * Same results as `Detector.run`.
 */
export class DetectorPool {
  readonly size: number;
  private workers: { worker: Worker; busy: number }[] | null = null;
  private readonly pending = new Map<number, { resolve: (r: ImageResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(
    private readonly model: string,
    private readonly options: DetectorOptions & { workers?: number } = {},
  ) {
    this.size = options.workers ?? 2;
    if (!(Number.isInteger(this.size) && this.size > 0)) throw invalidArgument('workers', 'a positive integer', this.size);
  }

  private async start(): Promise<{ worker: Worker; busy: number }[]> {
    if (this.workers) return this.workers;
    const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);
    const entry = new URL(`./detector-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    // Functions do not cross to a worker; workers are quiet (the pool's owner reports).
    const options = { threads: 1, ...this.options, log: undefined, workers: undefined };
    const list = Array.from({ length: this.size }, () => new Worker(bootstrap, { workerData: { entry, model: this.model, options } }));
    this.workers = list.map((worker) => ({ worker, busy: 0 }));
    await Promise.all(list.map((w) => new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (m.ready) {
          w.off('message', onMessage);
          resolve();
        }
      };
      w.on('message', onMessage);
      w.once('error', reject);
    })));
    for (const w of this.workers) {
      w.worker.on('message', (m: { id?: number; result?: ImageResult; error?: { message: string; code?: EmsegErrorCode; file?: string } }) => {
        if (m.id === undefined) return;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        w.busy--;
        if (m.error) p.reject(m.error.code ? new EmsegError(m.error.code, m.error.message, { file: m.error.file }) : new Error(m.error.message));
        else p.resolve(m.result as ImageResult);
      });
      w.worker.on('error', (e) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(e);
        }
      });
    }
    return this.workers;
  }

  /** One image on the least busy worker. Inputs cross the thread boundary by structured clone. */
  async run(input: DetectorInput): Promise<ImageResult> {
    const workers = await this.start();
    const w = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    w.busy++;
    return new Promise<ImageResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.worker.postMessage({ type: 'run', id, input });
    });
  }

  /** Like Detector.runBatch: every input, in input order; `concurrency` defaults to 2 per worker. */
  async *runBatch(inputs: Iterable<DetectorInput> | AsyncIterable<DetectorInput>, options: { concurrency?: number } = {}): AsyncGenerator<BatchItem> {
    const concurrency = options.concurrency ?? 2 * this.size;
    const queue: Promise<BatchItem>[] = [];
    let index = 0;
    for await (const input of inputs) {
      const i = index++;
      queue.push(this.run(input).then((result) => ({ input, index: i, result }), (error: unknown) => ({ input, index: i, error: error instanceof Error ? error : new Error(String(error)) })));
      if (queue.length >= concurrency) yield await (queue.shift() as Promise<BatchItem>);
    }
    while (queue.length > 0) yield await (queue.shift() as Promise<BatchItem>);
  }

  async dispose(): Promise<void> {
    const workers = this.workers;
    this.workers = null;
    if (!workers) return;
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      w.worker.once('exit', () => resolve());
      w.worker.postMessage({ type: 'close' });
      // A worker stuck in native code still goes: terminate after a grace period.
      setTimeout(() => void w.worker.terminate(), 2000).unref();
    })));
  }
}
