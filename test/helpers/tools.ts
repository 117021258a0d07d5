import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * A test that needs an external tool (python3-onnx, Chromium): skipped with the install command on a
 * developer machine without it, but FAILED under CI=true, where .ci/run installs every tool: CI must
 * never turn green by skipping.
 */
export function requireTool(t: TestContext, available: boolean, what: string): boolean {
  if (available) return true;
  if (process.env.CI === 'true') throw new Error(`${what} is missing under CI=true (.ci/run installs it); the test cannot be skipped in CI`);
  t.skip(`${what} is missing; test not run`);
  return false;
}

/** Debian's python3-onnx (the independent ONNX checker), run with /usr/bin/python3. */
export function pythonOnnxAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
}

/**
 * Run `fn` (expected to throw) and return how many bytes of ArrayBuffers it left allocated: a reader
 * that refuses an absurd header before allocating leaves ~0, one that allocates first leaves the
 * allocation (memoryUsage does not collect garbage, so a just-dropped buffer still counts).
 */
export function arrayBufferGrowth(fn: () => void): number {
  const before = process.memoryUsage().arrayBuffers;
  try {
    fn();
  } catch {
    // the caller asserts the error itself
  }
  return process.memoryUsage().arrayBuffers - before;
}
