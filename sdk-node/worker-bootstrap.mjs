// Entry of emseg's worker threads (training replicas, SDK detector workers). From the compiled package
// the worker module is JavaScript; when running from TypeScript sources (tests, benchmarks via tsx),
// register tsx in this thread first, because Node does not pass --import loaders on to worker threads.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
