// `npm run bench -- web`: images/s of the web SDK in headless Chromium (WASM with 1 and 2 threads;
// WebGPU on SwiftShader, opt-in, first image of each session only trusted) beside the Node SDK, on the
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
  const web: Record<string, number> = {};
  try {
    for (const [name, eps, threads] of [['wasm1', ['wasm'], 1], ['wasm2', ['wasm'], 2], ['webgpu', ['webgpu', 'wasm'], 1]] as const) {
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
    }
  } finally {
    await s.close();
  }
  return { bench: 'web', image: sample, nodeImagesPerSecond: +nodeIps.toFixed(2), ...Object.fromEntries(Object.entries(web).map(([k, v]) => [`${k}ImagesPerSecond`, +v.toFixed(2)])) };
}
