import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import { arraySpec, resolveShard, shardFromEnv, shardOfEach } from '../../sdk-node/analyze/shards.ts';

describe('analysis shards', () => {
  it('shards are disjoint, cover every input, differ by at most one image, and ignore the listing order', () => {
    const rand = seededRandom(11);
    for (let trial = 0; trial < 40; trial++) {
      const count = 1 + Math.floor(rand() * 9);
      const paths = Array.from({ length: Math.floor(rand() * 60) }, (_, i) => `data/${Math.floor(rand() * 1e6)}-${i}.tif`);
      const shard = shardOfEach(paths, count);
      const sizes = new Array<number>(count).fill(0);
      for (const s of shard) sizes[s]++;
      assert.equal(sizes.reduce((a, b) => a + b, 0), paths.length, 'every input in exactly one shard');
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`);
      const shuffled = paths.map((p, i) => [p, i] as const).sort(() => rand() - 0.5);
      const again = shardOfEach(shuffled.map(([p]) => p), count);
      shuffled.forEach(([, i], j) => assert.equal(again[j], shard[i], 'the same shard whatever the listing order'));
    }
  });

  it('environments: Slurm (min, step, count), Kubernetes Indexed Jobs, AWS Batch; none', () => {
    assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '1', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 3, count: 4, source: 'SLURM_ARRAY_TASK_ID=3 (min 0, step 1, count 4)' });
    assert.equal(shardFromEnv({ SLURM_ARRAY_TASK_ID: '30', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '10', SLURM_ARRAY_TASK_COUNT: '4' })?.index, 2);
    assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '15', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '10', SLURM_ARRAY_TASK_COUNT: '4' }), /SLURM_ARRAY_TASK_ID: expected one of the array's 4 ids/);
    // A resubmitted task (--array=3: MIN 3, COUNT 1) with the shard count given: the id is the shard.
    assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '1' }, 4), { index: 3, count: 4, source: 'SLURM_ARRAY_TASK_ID=3 of --shards 4' });
    assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '4' }, 4), /below --shards 4/);
    assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '5' }, 8), { index: 5, count: 8, source: 'JOB_COMPLETION_INDEX=5 of 8' });
    assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '5' }), /--shards N/);
    assert.deepEqual(shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ARRAY_SIZE: '2' })?.count, 2);
    assert.throws(() => shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '2', AWS_BATCH_JOB_ARRAY_SIZE: '2' }), /below the array size 2/);
    assert.equal(shardFromEnv({}), null);
  });

  it('--shard i/n, auto, and an explicit value that contradicts the environment', () => {
    assert.deepEqual(resolveShard('1/4', {}), { index: 1, count: 4, source: '--shard 1/4' });
    const env = { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4' };
    assert.equal(resolveShard('auto', env).index, 1);
    assert.equal(resolveShard('1/4', env).index, 1, 'agreeing values are fine');
    assert.throws(() => resolveShard('0/4', env), (e: unknown) => e instanceof EmsegError && /contradicts the environment/.test(e.message));
    assert.throws(() => resolveShard('auto', {}), /no SLURM_ARRAY_TASK_ID/);
    for (const bad of ['4/4', '1', '-1/3', 'a/b']) assert.throws(() => resolveShard(bad, {}), /--shard must be i\/n/);
  });

  it('arraySpec: sorted, unique, ranges', () => {
    assert.equal(arraySpec([5, 0, 2, 6, 7, 2]), '0,2,5-7');
    assert.equal(arraySpec([]), '');
  });
});
