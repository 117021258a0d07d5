import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { type CheckpointManifest, loadCheckpoint, saveCheckpoint } from '../../model/checkpoint.ts';

/** loadCheckpoint on broken folders: EmsegErrors naming the file (cases found by test/fuzz). */
const work = mkdtempSync(join(tmpdir(), 'emseg-checkpoint-'));
after(() => rmSync(work, { recursive: true, force: true }));

const manifest: CheckpointManifest = { format: 'emseg-checkpoint-1', task: 'rotated-detection', step: 3, paramCount: 6, config: {}, params: [{ name: 'w', shape: [2, 3] }] };
let n = 0;
async function checkpoint(edit: (dir: string) => void): Promise<string> {
  const dir = join(work, `ck${n++}`);
  await saveCheckpoint(dir, manifest, Float32Array.from([1, 2, 3, 4, 5, 6]), new Float32Array(6));
  edit(dir);
  return dir;
}

async function refused(dir: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof EmsegError, `not an EmsegError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(e.message.startsWith(dir), e.message);
    return true;
  });
}

describe('loadCheckpoint', () => {
  it('reads back what saveCheckpoint wrote', async () => {
    const ck = await loadCheckpoint(await checkpoint(() => {}));
    assert.deepEqual(ck.manifest, manifest);
    assert.deepEqual([...ck.params], [1, 2, 3, 4, 5, 6]);
    assert.equal(ck.momentum?.length, 6);
  });

  it('a manifest that is JSON but not an object (was a TypeError reading its format)', async () => {
    for (const text of ['null', '[1]', '"x"', '7']) {
      await refused(await checkpoint((d) => writeFileSync(join(d, 'manifest.json'), text)), 'EMSEG_FORMAT_BAD_HEADER', /not a checkpoint manifest \(a JSON (null|array|string|number), not an object\)/);
    }
  });

  it('a missing params.bin (was a bare ENOENT error)', async () => {
    await refused(await checkpoint((d) => rmSync(join(d, 'params.bin'))), 'EMSEG_FORMAT_TRUNCATED', /params\.bin: missing \(the checkpoint has a manifest declaring 6 parameters but no params\.bin\)/);
  });

  it('fields every reader relies on: paramCount, step, params', async () => {
    const edit = (patch: Record<string, unknown>) => (d: string) => writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...manifest, ...patch }));
    await refused(await checkpoint(edit({ paramCount: -6 })), 'EMSEG_FORMAT_BAD_HEADER', /paramCount is -6, expected a non-negative integer/);
    await refused(await checkpoint(edit({ paramCount: '6' })), 'EMSEG_FORMAT_BAD_HEADER', /paramCount is "6"/);
    await refused(await checkpoint(edit({ step: 'NaN' })), 'EMSEG_FORMAT_BAD_HEADER', /step is "NaN"/);
    await refused(await checkpoint(edit({ params: [{ name: 'w' }] })), 'EMSEG_FORMAT_BAD_HEADER', /params\[0\] is not \{name: string, shape: \[non-negative integers\]\}/);
  });
});
