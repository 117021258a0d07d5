/**
 * Micro benchmark of the exported `com.emseg::RotatedNMS` function on onnxruntime-node (CPU):
 * milliseconds per call for N = 100, 300, 1000 boxes, next to core's `nmsRotated` (the reference it
 * must equal, checked on every input here too).
 *
 *   node --import tsx export/bench-rotated-nms.ts [--threads 1] [--max-output N]
 *
 * Input: detector-like clusters (about 8 overlapping proposals per object, rods of 20-80 x 5-20 px
 * at random angles in a 1024 x 1024 image), IoU threshold 0.5. Medians over repeated calls; a
 * session is created once per configuration, as an application would.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { RotatedBox } from '../core/geometry/types.ts';
import { nmsRotated } from '../core/nms/nms.ts';
import { seededRandom } from '../core/random.ts';
import { encodeModel } from '../onnx/index.ts';
import { rotatedNmsModel } from './ops/rotated-nms-model.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    'max-output': { type: 'string' },
  },
});
const threads = Number(values.threads);

function clusteredDetections(n: number, seed: number): { boxes: RotatedBox[]; scores: number[] } {
  const rand = seededRandom(seed);
  const objects = Array.from({ length: Math.ceil(n / 8) }, () => [
    rand() * 1024, rand() * 1024, 20 + rand() * 60, 5 + rand() * 15, rand() * 360 - 180,
  ]);
  const f = Math.fround;
  const boxes = Array.from({ length: n }, (_, i): RotatedBox => {
    const [x, y, w, h, a] = objects[i % objects.length];
    return [f(x + rand() * 8 - 4), f(y + rand() * 8 - 4), f(w * (0.8 + rand() * 0.4)), f(h * (0.8 + rand() * 0.4)), f(a + rand() * 20 - 10)];
  });
  return { boxes, scores: boxes.map(() => f(rand())) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeIt(fn: () => Promise<unknown> | unknown, minMs = 1000, minReps = 10): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up: first runs allocate and plan memory
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || performance.now() - start < minMs) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

const session = await ort.InferenceSession.create(encodeModel(rotatedNmsModel()), {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
});
const threshold = 0.5;
console.log(`RotatedNMS on onnxruntime-node ${ort.env.versions.common} CPU, ${threads} intra-op thread(s), IoU threshold ${threshold}`);
console.log('     N   kept   ORT ms/call   nmsRotated (JS) ms/call');
for (const n of [100, 300, 1000]) {
  const { boxes, scores } = clusteredDetections(n, n);
  const maxOutput = values['max-output'] === undefined ? n : Number(values['max-output']);
  const feeds = {
    boxes: new ort.Tensor('float32', Float32Array.from(boxes.flat()), [n, 5]),
    scores: new ort.Tensor('float32', Float32Array.from(scores), [n]),
    iou_threshold: new ort.Tensor('float32', Float32Array.from([threshold]), []),
    max_output: new ort.Tensor('int64', BigInt64Array.from([BigInt(maxOutput)]), []),
    classes: new ort.Tensor('int64', new BigInt64Array(n), [n]), // one class: plain NMS
  };
  const keep = Array.from((await session.run(feeds)).keep.data as BigInt64Array, Number);
  const reference = nmsRotated(boxes, scores, Math.fround(threshold)).slice(0, Math.max(maxOutput, 0));
  if (JSON.stringify(keep) !== JSON.stringify(reference)) throw new Error(`N=${n}: ONNX keep list differs from nmsRotated`);
  const ortMs = await timeIt(() => session.run(feeds));
  const jsMs = await timeIt(() => nmsRotated(boxes, scores, threshold));
  console.log(`${String(n).padStart(6)} ${String(keep.length).padStart(6)} ${ortMs.toFixed(2).padStart(13)} ${jsMs.toFixed(2).padStart(25)}`);
}
await session.release();
