import { Worker } from 'node:worker_threads';
import { EmsegError, type EmsegErrorCode, invalidArgument } from '../core/errors.ts';
import { mapConcurrent } from '../core/inference/map-concurrent.ts';
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
  private slots: Slot[] | null = null;
  private readonly pending = new Map<number, { resolve: (r: ImageResult) => void; reject: (e: Error) => void; slot: Slot; name: string }>();
  private nextId = 0;
  private disposing = false;
  /** Workers started to replace crashed ones; bounded so a worker that always dies cannot loop forever. */
  private restarts = 0;

  constructor(
    private readonly model: string,
    private readonly options: DetectorOptions & { workers?: number } = {},
  ) {
    this.size = options.workers ?? 2;
    if (!(Number.isInteger(this.size) && this.size > 0)) throw invalidArgument('workers', 'a positive integer', this.size);
  }

  private spawn(): Slot {
    const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);
    const entry = new URL(`./detector-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    // Functions do not cross to a worker; workers are quiet (the pool's owner reports).
    const options = { threads: 1, ...this.options, log: undefined, workers: undefined };
    const worker = new Worker(bootstrap, { workerData: { entry, model: this.model, options } });
    const slot: Slot = { worker, busy: 0, dead: false, ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (m.ready) {
          worker.off('message', onMessage);
          resolve();
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new EmsegError('EMSEG_WORKER_FAILED', `${this.model}: a detector worker exited (code ${code}) before it was ready`, { file: this.model })));
    });
    slot.ready.catch(() => {}); // awaited by run()
    worker.on('message', (m: { id?: number; result?: ImageResult; error?: { message: string; code?: EmsegErrorCode; file?: string } }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      slot.busy--;
      if (m.error) p.reject(m.error.code ? new EmsegError(m.error.code, m.error.message, { file: m.error.file }) : new Error(m.error.message));
      else p.resolve(m.result as ImageResult);
    });
    // A worker that dies (native crash, out of memory, terminate) fails only its own jobs, and a
    // fresh worker takes its place: no later job is ever sent to a dead worker (it would never settle).
    const onDeath = (why: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        p.reject(new EmsegError('EMSEG_WORKER_FAILED', `${p.name}: the detector worker stopped (${why}) while analysing it`, { file: p.name }));
      }
      if (this.disposing || !this.slots) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0 && this.restarts < MAX_RESTARTS_PER_WORKER * this.size) {
        this.restarts++;
        this.slots[i] = this.spawn();
      }
    };
    worker.on('error', (e) => onDeath(e.message));
    worker.on('exit', (code) => onDeath(`exit code ${code}`));
    return slot;
  }

  private start(): Slot[] {
    if (!this.slots) this.slots = Array.from({ length: this.size }, () => this.spawn());
    return this.slots;
  }

  /** One image on the least busy live worker. Inputs cross the thread boundary by structured clone. */
  async run(input: DetectorInput): Promise<ImageResult> {
    const live = this.start().filter((w) => !w.dead);
    if (live.length === 0) throw new EmsegError('EMSEG_WORKER_FAILED', `${this.model}: every detector worker has failed (${this.restarts} restarted)`, { file: this.model });
    const w = live.reduce((a, b) => (b.busy < a.busy ? b : a));
    w.busy++; // before any await, so that concurrent calls spread over the workers
    try {
      await w.ready;
    } catch (e) {
      w.busy--;
      throw e;
    }
    const id = this.nextId++;
    return new Promise<ImageResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot: w, name: typeof input === 'string' ? input : `image #${id}` });
      w.worker.postMessage({ type: 'run', id, input });
    });
  }

  /** Like Detector.runBatch: every input, in input order; `concurrency` defaults to 2 per worker. */
  async *runBatch(inputs: Iterable<DetectorInput> | AsyncIterable<DetectorInput>, options: { concurrency?: number } = {}): AsyncGenerator<BatchItem> {
    yield* mapConcurrent(inputs, (input) => this.run(input), { concurrency: options.concurrency ?? 2 * this.size, ordered: true });
  }

  async dispose(): Promise<void> {
    const slots = this.slots;
    this.slots = null;
    this.disposing = true;
    if (!slots) return;
    await Promise.all(slots.filter((w) => !w.dead).map((w) => new Promise<void>((resolve) => {
      w.worker.once('exit', () => resolve());
      w.worker.postMessage({ type: 'close' });
      // A worker stuck in native code still goes: terminate after a grace period.
      setTimeout(() => void w.worker.terminate(), 2000).unref();
    })));
  }
}

interface Slot {
  worker: Worker;
  busy: number;
  dead: boolean;
  ready: Promise<void>;
}

const MAX_RESTARTS_PER_WORKER = 3;
