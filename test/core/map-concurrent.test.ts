import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapConcurrent } from '../../core/inference/map-concurrent.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('mapConcurrent (the one batch scheduler)', () => {
  it('ordered: input order, every error kept, never more than `concurrency` in flight', async () => {
    let inflight = 0, peak = 0;
    const delays = [30, 5, 20, 1, 15, 2, 8];
    const items = [];
    for await (const it of mapConcurrent(delays, async (d, i) => {
      inflight++;
      peak = Math.max(peak, inflight);
      await sleep(d);
      inflight--;
      if (i === 3) throw new Error('bad input 3');
      return d * 2;
    }, { concurrency: 3, ordered: true })) items.push(it);
    assert.deepEqual(items.map((x) => x.index), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(items.map((x) => x.result), [60, 10, 40, undefined, 30, 4, 16]);
    assert.equal(items[3].error?.message, 'bad input 3');
    assert.equal(peak, 3);
  });

  it('unordered: as they finish; an abort starts nothing new and yields what is in flight', async () => {
    const ac = new AbortController();
    const started: number[] = [];
    const seen: number[] = [];
    for await (const it of mapConcurrent([40, 5, 5, 5, 5, 5], async (d, i) => {
      started.push(i);
      await sleep(d);
      return i;
    }, { concurrency: 2, signal: ac.signal })) {
      seen.push(it.index);
      if (seen.length === 2) ac.abort();
    }
    assert.equal(seen[0], 1); // input 1 (5 ms) finishes before input 0 (40 ms)
    assert.deepEqual([...seen].sort(), [...started].sort());
    assert.ok(started.length < 6, `started ${started.length} after the abort`);
  });

  it('a synchronous throw in fn is an item, and async inputs work', async () => {
    async function* gen(): AsyncGenerator<number> {
      yield 1;
      yield 2;
    }
    const items = [];
    for await (const it of mapConcurrent(gen(), (x): Promise<number> => {
      if (x === 2) throw new Error('sync');
      return Promise.resolve(x);
    }, { concurrency: 1, ordered: true })) items.push(it);
    assert.deepEqual(items.map((x) => x.result ?? x.error?.message), [1, 'sync']);
  });
});
