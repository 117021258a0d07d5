/**
 * Benchmark: `segm` evaluation of 500 images x 100 GT x 100 detections (the acceptance size of
 * issue 3), from JSON files on disk to the 12 stats, as a user runs `emseg eval`.
 * GT are polygons (as annotation tools write them), detections compressed RLE (as models write them).
 * Set PYCOCOTOOLS_TIME_EVAL to a script `time_eval.py GT DT IOUTYPE` (printing one JSON line with
 * total_s) to time pycocotools on the same files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Rle, seededRandom, toCocoRle } from '../core/index.ts';
import { evaluateFiles } from '../sdk-node/evaluate-files.ts';

const IMAGES = 500, PER_IMAGE = 100, SIZE = 1024;

function ellipsePolygon(cx: number, cy: number, rx: number, ry: number, angle: number, n: number): number[] {
  const pts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const x = rx * Math.cos(t), y = ry * Math.sin(t);
    pts.push(+(cx + x * Math.cos(angle) - y * Math.sin(angle)).toFixed(2), +(cy + x * Math.sin(angle) + y * Math.cos(angle)).toFixed(2));
  }
  return pts;
}

/** RLE of a filled ellipse, built from its column spans (an ellipse meets each column in one run). */
function ellipseRle(cx: number, cy: number, rx: number, ry: number, angle: number): Rle {
  const r = Math.max(rx, ry) + 1;
  const c = Math.cos(angle), s = Math.sin(angle);
  const counts: number[] = [];
  let pos = 0; // pixels consumed so far, column-major
  for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(SIZE, Math.ceil(cx + r)); x++) {
    let y0 = -1, y1 = -1;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(SIZE, Math.ceil(cy + r)); y++) {
      const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const u = dx * c + dy * s, v = -dx * s + dy * c;
      if ((u / rx) ** 2 + (v / ry) ** 2 <= 1) {
        if (y0 < 0) y0 = y;
        y1 = y;
      }
    }
    if (y0 < 0) continue;
    const start = x * SIZE + y0;
    counts.push(start - pos, y1 - y0 + 1);
    pos = start + y1 - y0 + 1;
  }
  counts.push(SIZE * SIZE - pos);
  return { height: SIZE, width: SIZE, counts: Uint32Array.from(counts) };
}

/** Writes the benchmark files once (seeded, so identical every time) and reuses them afterwards. */
export function makeSegmBenchData(dir: string): { gt: string; dt: string } {
  const gt = join(dir, 'segm-500.gt.json');
  const dt = join(dir, 'segm-500.dt.json');
  if (existsSync(gt) && existsSync(dt)) return { gt, dt };
  const rand = seededRandom(2026);
  const images = [], annotations = [], results = [];
  let annId = 1;
  for (let img = 1; img <= IMAGES; img++) {
    images.push({ id: img, width: SIZE, height: SIZE, file_name: `bench_${img}.tif` });
    for (let k = 0; k < PER_IMAGE; k++) {
      const cx = 40 + rand() * (SIZE - 80), cy = 40 + rand() * (SIZE - 80);
      const rx = 6 + rand() * 30, ry = 6 + rand() * 30, angle = rand() * Math.PI;
      const category = 1 + Math.floor(rand() * 3);
      const poly = ellipsePolygon(cx, cy, rx, ry, angle, 24);
      annotations.push({ id: annId++, image_id: img, category_id: category, segmentation: [poly], area: Math.round(Math.PI * rx * ry), bbox: [cx - rx, cy - ry, 2 * rx, 2 * ry], iscrowd: 0 });
      // A detection: the object found with some error, or a false positive nearby.
      const hit = rand() < 0.85;
      const jitter = hit ? 0.15 : 1.5;
      const dcx = cx + (rand() - 0.5) * rx * jitter, dcy = cy + (rand() - 0.5) * ry * jitter;
      const drx = rx * (1 + (rand() - 0.5) * jitter * 0.5), dry = ry * (1 + (rand() - 0.5) * jitter * 0.5);
      const rle = ellipseRle(dcx, dcy, drx, dry, angle + (rand() - 0.5) * 0.3);
      results.push({ image_id: img, category_id: rand() < 0.95 ? category : 1 + Math.floor(rand() * 3), segmentation: toCocoRle(rle), score: +rand().toFixed(6) });
    }
  }
  const categories = [1, 2, 3].map((id) => ({ id, name: ['large_vesicle', 'small_vesicle', 'hole'][id - 1] }));
  mkdirSync(dir, { recursive: true });
  writeFileSync(gt, JSON.stringify({ images, categories, annotations }));
  writeFileSync(dt, JSON.stringify(results));
  return { gt, dt };
}

export async function benchSegmEval(outDir: string): Promise<Record<string, number | string>> {
  const t0 = performance.now();
  const { gt, dt } = makeSegmBenchData(outDir);
  const genMs = performance.now() - t0;
  const runs: number[] = [];
  let stats: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const r = await evaluateFiles({ gt, dt, iouType: 'segm' });
    runs.push(performance.now() - start);
    stats = r.statsArray;
  }
  const best = Math.min(...runs);
  const row: Record<string, number | string> = {
    bench: 'segm eval 500 img x 100 GT x 100 dt (1024^2)',
    data_generation_ms: Math.round(genMs),
    emseg_ms_best_of_3: Math.round(best),
    emseg_ms_runs: runs.map((r) => Math.round(r)).join(' '),
    AP: +stats[0].toFixed(4),
  };
  const py = process.env.PYCOCOTOOLS_TIME_EVAL;
  if (py) {
    const out = execFileSync('/usr/bin/python3', [py, gt, dt, 'segm'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const res = JSON.parse(out.trim().split('\n').pop()!) as { total_s: number; stats: number[] };
    row.pycocotools_ms = Math.round(res.total_s * 1000);
    row.max_stat_diff_vs_pycocotools = Math.max(...res.stats.map((v, i) => Math.abs(v - stats[i])));
    row.speedup = +(res.total_s * 1000 / best).toFixed(2);
  }
  return row;
}
