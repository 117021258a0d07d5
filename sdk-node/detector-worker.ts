import { parentPort, workerData } from 'node:worker_threads';
import { isEmsegError } from '../core/errors.ts';
import { Detector, type DetectorInput, type DetectorOptions } from './detector.ts';

/** One DetectorPool worker: its own Detector (session), one image at a time. */
const { model, options } = workerData as { model: string; options: DetectorOptions };
const port = parentPort;
if (!port) throw new Error('detector-worker runs in a worker thread');
const detector = new Detector(model, { ...options, log: () => {} });

port.on('message', (m: { type: 'run'; id: number; input: DetectorInput } | { type: 'close' }) => {
  if (m.type === 'close') {
    void detector.dispose().then(() => port.close());
    return;
  }
  detector.run(m.input).then(
    (result) => port.postMessage({ id: m.id, result }),
    (e: unknown) => port.postMessage({ id: m.id, error: { message: e instanceof Error ? e.message : String(e), code: isEmsegError(e) ? e.code : undefined, file: isEmsegError(e) ? e.file : undefined } }),
  );
});
port.postMessage({ ready: true });
