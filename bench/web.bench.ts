// `npm run bench -- web`: images/s of the web SDK in headless Chromium (WASM with 1 and 2 threads;
// WebGPU on SwiftShader, opt-in, the first run of fresh sessions: later runs are wrong) beside the Node SDK, on the
// same zoo sample (vesicle-large, 512² uint16 TIFF), each after one warm-up run.
import { join } from 'node:path';
import { Detector } from '../sdk-node/detector.ts';
import { openBrowser } from '../test/helpers/chromium.ts';

const root = new URL('..', import.meta.url).pathname;
const sample = 'tem-vesicles-0001.tif';
const RUNS = 6;

export async function benchWeb(): Promise<Record<string, number | string>> {
  const node = new Detector('vesicle-large', { log: () => {} });
  await node.run(join(root, 'model-zoo/samples', sample));
  const t = performance.now();
  for (let i = 0; i < RUNS; i++) await node.run(join(root, 'model-zoo/samples', sample));
  const nodeIps = RUNS / ((performance.now() - t) / 1000);
  await node.dispose();
  const s = await openBrowser({ '/web/': join(root, 'dist/web'), '/model-zoo/': join(root, 'model-zoo'), '/samples/': join(root, 'model-zoo/samples') });
  s.page.on('crash', () => console.error('web bench: the page crashed'));
  s.page.on('console', (m) => { if (m.type() === 'error') console.error(`web bench: page console: ${m.text()}`); });
  s.page.setDefaultTimeout(0);
  const web: Record<string, number> = {};
  try {
    for (const [name, eps, threads] of [['wasm1', ['wasm'], 1], ['wasm2', ['wasm'], 2]] as const) {
      console.error(`web bench: ${name}...`);
      const t0 = performance.now();
      web[name] = (await s.page.evaluate(`(async () => {
        const { Detector } = await import('/web/emseg.js');
        const d = new Detector('vesicle-large', { zooBase: '/model-zoo/', executionProviders: ${JSON.stringify(eps)}, threads: ${threads}, log: () => {} });
        const bytes = await (await fetch('/samples/${sample}')).arrayBuffer();
        await d.run(bytes.slice(0));
        const t = performance.now();
        for (let i = 0; i < ${RUNS}; i++) await d.run(bytes.slice(0));
        const ips = ${RUNS} / ((performance.now() - t) / 1000);
        await d.dispose();
        return ips;
      })()`)) as number;
      console.error(`web bench: ${name} ${web[name].toFixed(2)} images/s (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    // WebGPU: only a session's first run is right (onnxruntime-web 1.30 on SwiftShader; later runs give
    // wrong objects, then an out-of-bounds Gather: sdk-web/inline-detector.ts), so each timed run is the
    // first of a fresh session, the session made before the clock starts.
    console.error('web bench: webgpu (first run of each session)...');
    web.webgpuFirstRun = (await s.page.evaluate(`(async () => {
      const { Detector } = await import('/web/emseg.js');
      const bytes = await (await fetch('/samples/${sample}')).arrayBuffer();
      let ms = 0, provider = '';
      for (let i = 0; i < 3; i++) {
        const d = new Detector('vesicle-large', { zooBase: '/model-zoo/', executionProviders: ['webgpu', 'wasm'], log: () => {} });
        provider = await d.provider();
        const t = performance.now();
        await d.run(bytes.slice(0));
        ms += performance.now() - t;
        await d.dispose();
      }
      if (provider !== 'webgpu') throw new Error('WebGPU was not used: ' + provider);
      return 3 / (ms / 1000);
    })()`)) as number;
    console.error(`web bench: webgpu ${web.webgpuFirstRun.toFixed(2)} images/s`);
  } finally {
    await s.close();
  }
  return { bench: 'web', image: sample, nodeImagesPerSecond: +nodeIps.toFixed(2), ...Object.fromEntries(Object.entries(web).map(([k, v]) => [`${k}ImagesPerSecond`, +v.toFixed(2)])) };
}
