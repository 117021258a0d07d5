import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { DetectorPool } from '../../sdk-node/detector-pool.ts';
import { Detector } from '../../sdk-node/detector.ts';
import { repoRoot } from '../helpers/fixtures.ts';

const image = join(repoRoot, 'model-zoo', 'samples', 'tem-vesicles-0000.tif');

/**
 * DetectorPool: the same results as Detector.run; a worker that dies mid-job fails that job with a
 * typed error and is replaced, so later jobs settle (a dead worker kept in rotation made them hang).
 */
describe('DetectorPool', () => {
  it('a worker killed mid-job: that job fails with EMSEG_WORKER_FAILED, the next ones run on a replacement', async () => {
    const det = new Detector('vesicle-large', { log: () => {} });
    const reference = await det.run(image);
    await det.dispose();
    const pool = new DetectorPool('vesicle-large', { workers: 2 });
    try {
      const first = await pool.run(image);
      assert.equal(first.instances.length, reference.instances.length);
      const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
      const victim = slots[0].worker;
      const jobs = [pool.run(image), pool.run(image)]; // one on each worker (least busy first)
      await victim.terminate();
      const settled = await Promise.allSettled(jobs);
      const failed = settled.filter((r) => r.status === 'rejected');
      assert.equal(failed.length, 1, 'only the killed worker\'s job fails');
      const reason = (failed[0] as PromiseRejectedResult).reason as unknown;
      assert.ok(reason instanceof EmsegError && reason.code === 'EMSEG_WORKER_FAILED' && reason.message.startsWith(image), String(reason));
      assert.notEqual((pool as unknown as { slots: { worker: Worker }[] }).slots[0].worker, victim, 'replaced');
      const after = await Promise.all([pool.run(image), pool.run(image), pool.run(image)]);
      for (const r of after) assert.deepEqual(r.instances.map((i) => i.score), reference.instances.map((i) => i.score));
    } finally {
      await pool.dispose();
    }
  });
});
