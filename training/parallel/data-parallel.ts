import { Worker } from 'node:worker_threads';

/**
 * Synchronous data parallelism over worker threads: the wasm backend is single-threaded in Node, so
 * the second core is used by a second model replica. Each step sends one shard to each worker,
 * waits until all gradients are in a SharedArrayBuffer, then lets every worker average them and apply
 * the same update. Steps are deterministic for a fixed number of workers.
 */
export class DataParallel {
  private constructor(
    private readonly workers: Worker[],
    readonly paramCount: number,
  ) {}

  /** Start `workers` replicas of `replicaModule` (a module URL exporting `createReplica(init)`). */
  static async start(replicaModule: string, init: unknown, workers: number): Promise<DataParallel> {
    const bootstrap = new URL('../../sdk-node/worker-bootstrap.mjs', import.meta.url);
    const entry = new URL(`./replica-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    const list = Array.from({ length: workers }, (_, index) => new Worker(bootstrap, { workerData: { entry, replicaModule, init, index, workers } }));
    const counts = (await Promise.all(list.map((w) => once(w, 'started')))).map((m) => (m as { paramCount: number }).paramCount);
    if (new Set(counts).size !== 1) throw new Error(`replicas disagree on their parameter count: ${counts.join(', ')}`);
    const shared = new SharedArrayBuffer(workers * counts[0] * 4);
    await Promise.all(list.map((w) => {
      const p = once(w, 'attached');
      w.postMessage({ type: 'attach', shared });
      return p;
    }));
    return new DataParallel(list, counts[0]);
  }

  /** One synchronous step over `shards` (one per worker); returns the mean loss. */
  async step(shards: unknown[]): Promise<number> {
    if (shards.length !== this.workers.length) throw new Error(`expected ${this.workers.length} shards, got ${shards.length}`);
    const ready = this.workers.map((w, i) => {
      const p = once(w, 'ready');
      w.postMessage({ type: 'step', shard: shards[i] });
      return p;
    });
    const losses = (await Promise.all(ready)).map((m) => (m as { loss: number }).loss);
    await Promise.all(this.workers.map((w) => {
      const p = once(w, 'applied');
      w.postMessage({ type: 'apply' });
      return p;
    }));
    return losses.reduce((a, b) => a + b, 0) / losses.length;
  }

  /** Parameters of one replica (all replicas hold the same values). */
  async parameters(worker = 0): Promise<Float32Array> {
    const p = once(this.workers[worker], 'parameters');
    this.workers[worker].postMessage({ type: 'parameters' });
    return ((await p) as { values: Float32Array }).values;
  }

  /** Call any other method of one replica by name (e.g. evaluation, checkpoint state). */
  async call(worker: number, method: string, ...args: unknown[]): Promise<unknown> {
    const p = once(this.workers[worker], 'result');
    this.workers[worker].postMessage({ type: 'call', method, args });
    return ((await p) as { value: unknown }).value;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function once(worker: Worker, type: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`worker exited with code ${code} while waiting for "${type}"`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
