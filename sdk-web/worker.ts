// The web SDK's Web Worker (dist/web/emseg-worker.js): one InlineDetector, driven by the page's
// `Detector` through messages, so decoding, inference and mask pasting never freeze the page.
import { isEmsegError } from '../core/errors.ts';
import { InlineDetector, setBundleBase, type ModelSource, type RunOverrides, type WebDetectorOptions, type WebImageInput } from './inline-detector.ts';

setBundleBase(new URL('./', import.meta.url).href);

export type WorkerRequest =
  | { id: number; type: 'init'; model: ModelSource; options: Omit<WebDetectorOptions, 'log'> }
  | { id: number; type: 'info' | 'classes' | 'provider' | 'dispose' }
  | { id: number; type: 'run'; input: WebImageInput; name?: string; overrides?: RunOverrides };

export type WorkerReply =
  | { id: number; result: unknown }
  | { id: number; error: { message: string; code?: string; file?: string } }
  | { log: string };

const scope = globalThis as unknown as { postMessage(m: WorkerReply): void; addEventListener(t: 'message', f: (e: MessageEvent<WorkerRequest>) => void): void };
let detector: InlineDetector | null = null;

async function handle(m: WorkerRequest): Promise<unknown> {
  if (m.type === 'init') {
    detector = new InlineDetector(m.model, { ...m.options, log: (line) => scope.postMessage({ log: line }) });
    return null;
  }
  if (!detector) throw new Error('the detector worker was not initialised');
  switch (m.type) {
    case 'info':
      return detector.info();
    case 'classes':
      return detector.reportedClasses();
    case 'provider':
      return detector.provider();
    case 'run':
      return detector.run(m.input, m.name, m.overrides);
    case 'dispose':
      await detector.dispose();
      return null;
  }
}

scope.addEventListener('message', (e) => {
  const m = e.data;
  handle(m).then(
    (result) => scope.postMessage({ id: m.id, result }),
    (err: unknown) => scope.postMessage({ id: m.id, error: { message: err instanceof Error ? err.message : String(err), ...(isEmsegError(err) ? { code: err.code, file: err.file } : {}) } }),
  );
});
