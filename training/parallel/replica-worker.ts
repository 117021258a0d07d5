import { parentPort, workerData } from 'node:worker_threads';
import type { ReplicaFactory } from './replica.ts';

/**
 * Worker side of `DataParallel`. Protocol: 'started' (paramCount) -> 'attach' (the shared gradient
 * buffer); then 'step' (shard) -> compute gradients into this worker's slot -> 'ready'; 'apply' ->
 * average all slots in a fixed order (so every worker gets the same bits) -> update -> 'applied'.
 */
interface Data {
  entry: string;
  replicaModule: string;
  init: unknown;
  index: number;
  workers: number;
}

const data = workerData as Data;
const { createReplica } = (await import(data.replicaModule)) as { createReplica: ReplicaFactory };
const replica = await createReplica(data.init);
const P = replica.paramCount;
let slots: Float32Array[] = [];
const avg = new Float32Array(P);
const port = parentPort!;

type Message =
  | { type: 'attach'; shared: SharedArrayBuffer }
  | { type: 'step'; shard: unknown }
  | { type: 'apply' }
  | { type: 'parameters' }
  | { type: 'call'; method: string; args: unknown[] };

port.on('message', (msg: Message) => {
  if (msg.type === 'parameters') {
    port.postMessage({ type: 'parameters', values: replica.parameters() });
    return;
  }
  if (msg.type === 'call') {
    // Any other method of the replica (evaluation, checkpoint state), by name.
    const fn = (replica as unknown as Record<string, (...a: unknown[]) => unknown>)[msg.method];
    if (typeof fn !== 'function') throw new Error(`replica has no method ${msg.method}`);
    port.postMessage({ type: 'result', value: fn.apply(replica, msg.args) });
    return;
  }
  if (msg.type === 'attach') {
    slots = Array.from({ length: data.workers }, (_, w) => new Float32Array(msg.shared, w * P * 4, P));
    port.postMessage({ type: 'attached' });
  } else if (msg.type === 'step') {
    const { loss, grads } = replica.gradients(msg.shard);
    slots[data.index].set(grads);
    port.postMessage({ type: 'ready', loss });
  } else if (msg.type === 'apply') {
    const inv = 1 / data.workers;
    avg.set(slots[0]);
    for (let w = 1; w < data.workers; w++) {
      const s = slots[w];
      for (let i = 0; i < P; i++) avg[i] += s[i];
    }
    for (let i = 0; i < P; i++) avg[i] *= inv;
    replica.apply(avg);
    port.postMessage({ type: 'applied' });
  }
});
port.postMessage({ type: 'started', paramCount: P });
