import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emsegBin } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/fixtures.ts';

/**
 * emseg on a REAL Slurm (single node, started here without systemd by test/helpers/slurm-local.sh):
 * the shipped deploy/slurm/submit.sh submits a 4-task array and its merge (afterany); one running
 * task is killed, the merge reports it and prints the --array spec, the spec is resubmitted with
 * submit.sh, and the merged outputs equal a single-machine run's byte for byte.
 * Needs root and Debian's munge/slurm packages: CI installs them (.ci/run); elsewhere it skips, under
 * CI=true it fails.
 */
const haveSlurm = ['sbatch', 'slurmctld', 'slurmd', 'munged'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0) && process.getuid?.() === 0;
if (!haveSlurm && process.env.CI === 'true') throw new Error('Slurm (munge slurmctld slurmd slurm-client, as root) is missing under CI=true: .ci/run installs it');

const work = mkdtempSync(join(tmpdir(), 'emseg-slurm-'));
const cluster = join(work, 'cluster');
const env = { ...process.env, SLURM_CONF: join(cluster, 'slurm.conf'), EMSEG: `${process.execPath} ${emsegBin}` };
const sh = (cmd: string, args: string[], extra: Record<string, string> = {}) => spawnSync(cmd, args, { encoding: 'utf8', env: { ...env, ...extra } });

async function waitFor(jobIds: string[], seconds = 300): Promise<void> {
  for (let t = 0; t < seconds; t++) {
    const q = sh('squeue', ['-h', '-j', jobIds.join(','), '-o', '%i %T']);
    if (q.status === 0 && q.stdout.trim() === '') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`jobs ${jobIds.join(',')} still queued after ${seconds} s: ${sh('squeue', []).stdout}`);
}

describe('emseg analyze on a real Slurm (array + merge, a killed task resubmitted)', { skip: haveSlurm ? false : 'no Slurm here (apt-get install munge slurmctld slurmd slurm-client; as root)' }, () => {
  let inputs = '';
  before(() => {
    const r = spawnSync('bash', [join(repoRoot, 'test', 'helpers', 'slurm-local.sh'), 'start', cluster], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    inputs = join(work, 'inputs');
    mkdirSync(inputs);
    const samples = join(repoRoot, 'model-zoo', 'samples');
    for (const f of readdirSync(samples).filter((n) => n.endsWith('.tif'))) for (const k of [0, 1, 2]) copyFileSync(join(samples, f), join(inputs, `${k}-${f}`));
  });
  after(() => {
    sh('scancel', ['--user', 'root']);
    spawnSync('bash', [join(repoRoot, 'test', 'helpers', 'slurm-local.sh'), 'stop', cluster]);
    rmSync(work, { recursive: true, force: true });
  });

  it('4 array tasks, one killed: merge lists it, resubmission completes it, outputs equal one machine\'s', async () => {
    const out = join(work, 'sharded');
    const submit = join(repoRoot, 'deploy', 'slurm', 'submit.sh');
    const vars = { SHARDS: '4', MODEL: 'vesicle-large', OUT: out, EMSEG_ANALYZE_OPTIONS: '--report' };
    // Task 3 is killed (SIGKILL, no chance to finish an image) as soon as Slurm starts it: with 1 CPU
    // per task on 2 CPUs it starts after tasks 0-2 have begun; node start-up and the model load take
    // far longer than the 50 ms polling, so it dies before recording anything.
    const s = sh('bash', [submit, inputs], vars);
    assert.equal(s.status, 0, s.stderr);
    const [jid, mid] = s.stdout.trim().split(/\s+/);
    for (let t = 0; t < 6000; t++) {
      if (sh('squeue', ['-h', '-j', `${jid}_3`, '-t', 'RUNNING', '-o', '%i']).stdout.trim() !== '') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(sh('scancel', ['--signal=KILL', '--full', `${jid}_3`]).status, 0);
    await waitFor([jid, mid]);
    const mergeLog = readFileSync(join(out, 'slurm-logs', `emseg-merge-${mid}.out`), 'utf8');
    assert.match(mergeLog, /resubmit those shards: sbatch --array=3 /, mergeLog);
    assert.ok(!existsSync(join(out, 'objects.csv')), 'the incomplete merge wrote nothing');
    // The printed spec, resubmitted with the same script.
    const again = sh('bash', [submit, inputs], { ...vars, ARRAY: '3' });
    assert.equal(again.status, 0, again.stderr);
    const [jid2, mid2] = again.stdout.trim().split(/\s+/);
    await waitFor([jid2, mid2]);
    const log2 = readFileSync(join(out, 'slurm-logs', `emseg-merge-${mid2}.out`), 'utf8');
    assert.match(log2, /merged 9 of 9 images from 4 shard\(s\)/, log2);
    const taskLog = readFileSync(join(out, 'slurm-logs', `emseg-analyze-${jid2}_3.out`), 'utf8');
    assert.match(taskLog, /shard 3\/4 \(SLURM_ARRAY_TASK_ID=3 of --shards 4\), 1 thread \(SLURM_CPUS_PER_TASK\)/, taskLog);

    const single = join(work, 'single');
    const r = spawnSync(process.execPath, [emsegBin, 'analyze', inputs, '--model', 'vesicle-large', '--out', single, '--report'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['objects.csv', 'summary.csv', 'summary.json', 'predictions.coco.json', 'report.html']) {
      assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(single, f), 'utf8'), `${f}: Slurm run = single-machine run`);
    }
  });
});
