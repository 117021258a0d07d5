import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { writeChunksAtomic } from '../../sdk-node/write-file.ts';

describe('writeChunksAtomic (outputs larger than one string)', () => {
  it('writes every chunk in order across its 1 MB batches; a failure leaves neither the file nor a temporary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emseg-chunks-'));
    const chunks = Array.from({ length: 3000 }, (_, i) => `${i}:${'x'.repeat(i % 997)}\n`);
    const file = join(dir, 'big.txt');
    await writeChunksAtomic(file, chunks);
    assert.equal(readFileSync(file, 'utf8'), chunks.join(''));
    mkdirSync(join(dir, 'blocked.txt'));
    mkdirSync(join(dir, 'blocked.txt', 'inside'));
    await assert.rejects(writeChunksAtomic(join(dir, 'blocked.txt'), chunks), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_FILE_WRITE');
    assert.deepEqual(readdirSync(dir).sort(), ['big.txt', 'blocked.txt']);
  });
});
