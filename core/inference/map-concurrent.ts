import { invalidArgument } from '../errors.ts';

/**
 * The one batch scheduler of emseg (Detector.runBatch, DetectorPool.runBatch, `emseg analyze`, the
 * web SDK): `fn` on every input with at most `concurrency` calls in flight, each outcome yielded as
 * an item that carries its result or its error (one bad input never stops a batch). `ordered`
 * yields in input order (a slow input holds back later ones); otherwise as they finish. After
 * `signal` aborts, no new call starts and the ones in flight are still yielded.
 */
export interface Settled<T, R> {
  input: T;
  /** Position in the inputs. */
  index: number;
  result?: R;
  error?: Error;
}

export interface MapConcurrentOptions {
  concurrency: number;
  ordered?: boolean;
  signal?: AbortSignal;
}

export async function* mapConcurrent<T, R>(inputs: Iterable<T> | AsyncIterable<T>, fn: (input: T, index: number) => Promise<R>, o: MapConcurrentOptions): AsyncGenerator<Settled<T, R>> {
  if (!(Number.isInteger(o.concurrency) && o.concurrency > 0)) throw invalidArgument('concurrency', 'a positive integer', o.concurrency);
  const inflight = new Map<number, Promise<Settled<T, R>>>();
  const start = (input: T, index: number): void => {
    const settled = Promise.resolve()
      .then(() => fn(input, index))
      .then(
        (result): Settled<T, R> => ({ input, index, result }),
        (error: unknown): Settled<T, R> => ({ input, index, error: error instanceof Error ? error : new Error(String(error)) }),
      );
    inflight.set(index, settled);
  };
  // In order: the oldest in flight; else whichever settles first.
  const next = async (): Promise<Settled<T, R>> => {
    const item = o.ordered ? await (inflight.values().next().value as Promise<Settled<T, R>>) : await Promise.race(inflight.values());
    inflight.delete(item.index);
    return item;
  };
  let index = 0;
  for await (const input of inputs) {
    if (o.signal?.aborted) break;
    start(input, index++);
    if (inflight.size >= o.concurrency) yield await next();
  }
  while (inflight.size > 0) yield await next();
}
