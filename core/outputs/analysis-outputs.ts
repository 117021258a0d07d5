import { rotatedBoxCorners } from '../geometry/rotated-box.ts';
import type { ImageResult, Instance } from '../inference/types.ts';
import { cocoSegmentationToRle } from '../mask/coco-segmentation.ts';
import { maskToContours } from '../mask/contours.ts';
import { decodeRleCrop } from '../mask/rle.ts';
import { numberDensityPerUm2, summarise, type Summary } from '../measure/class-statistics.ts';

/**
 * The contents of what an analysis writes, runtime-free, so `emseg analyze` (Node) and the web app
 * produce the same bytes: objects.csv (one row per object), summary.csv / summary.json (per class:
 * count, number per µm², statistics of each measurement), predictions.coco.json (COCO with scores),
 * GeoJSON per image (QuPath), SVG histograms, the overlay drawing and report.html. Large tables are
 * generators of chunks: one row per object of every image can exceed the largest string V8 holds.
 */
export interface AnalysedImage {
  /** How the image is named in the tables (its path as given). */
  path: string;
  result: ImageResult;
}

export interface AnalysisFailure {
  path: string;
  error: string;
}

export const MEASUREMENT_KEYS = ['area', 'equivalentDiameter', 'perimeter', 'majorAxis', 'minorAxis', 'orientation', 'aspectRatio', 'circularity', 'solidity', 'meanIntensity', 'length', 'width', 'angle'] as const;
/** Measurements that get histograms and statistics in the report. */
const REPORTED = ['area', 'equivalentDiameter', 'majorAxis', 'minorAxis', 'aspectRatio', 'circularity', 'length', 'width'] as const;

const PALETTE: [number, number, number][] = [[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]];
/** The colour of class number `i` in overlays, histograms and the web app. */
export const classColour = (i: number): [number, number, number] => PALETTE[i % PALETTE.length];

/** Object outlines in image pixel coordinates: mask boundaries (outer and holes) or the rotated box. */
export function instanceOutlines(inst: Instance, width: number, height: number): number[][] {
  if (inst.rbox) return [rotatedBoxCorners(inst.rbox).flat()];
  if (!inst.mask) {
    const [x1, y1, x2, y2] = inst.box;
    return [[x1, y1, x2, y1, x2, y2, x1, y2]];
  }
  const x = Math.max(0, Math.floor(inst.box[0])), y = Math.max(0, Math.floor(inst.box[1]));
  const w = Math.max(1, Math.min(width, Math.ceil(inst.box[2])) - x), h = Math.max(1, Math.min(height, Math.ceil(inst.box[3])) - y);
  const local = decodeRleCrop(cocoSegmentationToRle(inst.mask, height, width, 'instance mask'), x, y, w, h);
  return maskToContours(local, h, w).map((c) => c.points.map((v, i) => v + (i % 2 === 0 ? x : y)));
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(7)) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The overlay drawing: each object's outline in its class colour, as an SVG the size of the image. */
export function overlaySvg(result: ImageResult, classes: readonly string[]): string {
  const stroke = Math.max(1, Math.round(Math.max(result.width, result.height) / 512));
  const paths = result.instances.map((inst) => {
    const [r, g, b] = classColour(Math.max(0, classes.indexOf(inst.label)));
    const d = instanceOutlines(inst, result.width, result.height).map((pts) => `M${pts.map((v) => v.toFixed(1)).join(' ')}Z`).join('');
    return `<path d="${d}" fill="rgba(${r},${g},${b},0.18)" stroke="rgb(${r},${g},${b})" stroke-width="${stroke}" fill-rule="evenodd"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${result.width}" height="${result.height}">${paths.join('')}</svg>`;
}

/** GeoJSON for QuPath: one Polygon feature per object with its class and measurements. */
export function toGeoJson(result: ImageResult, classes: readonly string[]): object {
  return {
    type: 'FeatureCollection',
    features: result.instances.map((inst) => {
      const rings = instanceOutlines(inst, result.width, result.height).map((pts) => {
        const ring: number[][] = [];
        for (let i = 0; i < pts.length; i += 2) ring.push([pts[i], pts[i + 1]]);
        ring.push([pts[0], pts[1]]);
        return ring;
      });
      const measurements = Object.fromEntries(MEASUREMENT_KEYS.filter((k) => typeof inst.measurements?.[k] === 'number').map((k) => [k, inst.measurements?.[k]]));
      return {
        type: 'Feature',
        geometry: rings.length === 1 ? { type: 'Polygon', coordinates: rings } : { type: 'MultiPolygon', coordinates: rings.map((r) => [r]) },
        properties: { objectType: 'detection', classification: { name: inst.label, color: classColour(Math.max(0, classes.indexOf(inst.label))) }, score: inst.score, unit: inst.measurements?.unit ?? 'px', measurements },
      };
    }),
  };
}

export interface ClassSummary {
  count: number;
  /** Objects per µm² of analysed image area (calibrated images only). */
  perUm2: number | null;
  unit: 'nm' | 'px' | 'mixed';
  measurements: Record<string, Summary>;
}

export function summariseClasses(images: readonly AnalysedImage[], classes: readonly string[]): Record<string, ClassSummary> {
  const out: Record<string, ClassSummary> = {};
  let areaNm2 = 0;
  let calibrated = true;
  for (const { result } of images) {
    const ps = result.pixelSize;
    if (ps) areaNm2 += result.width * result.height * ps.x * ps.y;
    else calibrated = false;
  }
  for (const name of classes) {
    const objects = images.flatMap((r) => r.result.instances.filter((i) => i.label === name));
    const units = new Set(objects.map((o) => o.measurements?.unit ?? 'px'));
    out[name] = {
      count: objects.length,
      perUm2: calibrated && areaNm2 > 0 ? numberDensityPerUm2(objects.length, areaNm2) : null,
      unit: units.size > 1 ? 'mixed' : ((units.values().next().value as 'nm' | 'px' | undefined) ?? (calibrated ? 'nm' : 'px')),
      measurements: Object.fromEntries(REPORTED.map((k) => [k, summarise(objects.map((o) => o.measurements?.[k]).filter((v): v is number => typeof v === 'number'))]).filter(([, v]) => (v as Summary).count > 0)),
    };
  }
  return out;
}

/** An SVG histogram of one measurement. */
export function histogramSvg(title: string, summary: Summary, unit: string, rgb: [number, number, number]): string {
  const W = 360, H = 200, left = 40, bottom = 30, top = 24;
  const { edges, counts } = summary.histogram;
  const max = Math.max(1, ...counts);
  const bw = (W - left - 10) / Math.max(1, counts.length);
  const bars = counts.map((c, i) => {
    const h = ((H - top - bottom) * c) / max;
    return `<rect x="${(left + i * bw).toFixed(1)}" y="${(H - bottom - h).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="rgb(${rgb.join(',')})"/>`;
  });
  const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`
    + `<text x="${left}" y="14" font-weight="bold">${escapeXml(title)} (${escapeXml(unit)}), n = ${summary.count}</text>`
    + bars.join('')
    + `<line x1="${left}" y1="${H - bottom}" x2="${W - 10}" y2="${H - bottom}" stroke="black"/>`
    + `<text x="${left}" y="${H - bottom + 14}">${edges.length ? fmt(edges[0]) : ''}</text>`
    + `<text x="${W - 10}" y="${H - bottom + 14}" text-anchor="end">${edges.length ? fmt(edges[edges.length - 1]) : ''}</text>`
    + `<text x="${left - 4}" y="${top + 4}" text-anchor="end">${max}</text><text x="${left - 4}" y="${H - bottom}" text-anchor="end">0</text>`
    + `<text x="${(left + W) / 2}" y="${H - 6}" text-anchor="middle">median ${fmt(summary.median)}, mean ${fmt(summary.mean)} ± ${fmt(summary.std)}</text></svg>`;
}

const UNIT_OF: Record<string, (u: string) => string> = {
  area: (u) => (u === 'nm' ? 'nm²' : 'px²'),
  aspectRatio: () => '1',
  circularity: () => '1',
};

/** The physical unit a measurement is reported in, given the class's length unit. */
export const measurementUnit = (key: string, unit: string): string => (UNIT_OF[key] ?? ((u: string) => u))(unit);

/** objects.csv, row by row. */
export function* objectsCsv(images: Iterable<AnalysedImage>): Generator<string> {
  const header = ['image', 'object', 'label', 'score', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'rbox_w', 'rbox_h', 'rbox_angle', 'unit', ...MEASUREMENT_KEYS];
  yield `${header.join(',')}\n`;
  for (const { path, result } of images) {
    for (const [i, inst] of result.instances.entries()) {
      const m = inst.measurements;
      yield `${[path, i, inst.label, inst.score, ...inst.box, (inst.box[0] + inst.box[2]) / 2, (inst.box[1] + inst.box[3]) / 2, inst.rbox?.[2], inst.rbox?.[3], inst.rbox?.[4], m?.unit ?? 'px', ...MEASUREMENT_KEYS.map((k) => m?.[k])].map(csvCell).join(',')}\n`;
    }
  }
}

/** summary.csv: one row per class and measurement. */
export function summaryCsv(summary: Record<string, ClassSummary>): string {
  const rows = ['class,count,per_um2,unit,measurement,mean,median,std,min,max,p5,p25,p75,p95'];
  for (const [name, c] of Object.entries(summary)) {
    for (const [k, v] of Object.entries(c.measurements)) rows.push([name, c.count, c.perUm2, c.unit, k, v.mean, v.median, v.std, v.min, v.max, v.percentiles.p5, v.percentiles.p25, v.percentiles.p75, v.percentiles.p95].map(csvCell).join(','));
    if (Object.keys(c.measurements).length === 0) rows.push([name, c.count, c.perUm2, c.unit].map(csvCell).join(','));
  }
  return `${rows.join('\n')}\n`;
}

/** summary.json. */
export function summaryJson(model: string, images: number, failed: readonly AnalysisFailure[], summary: Record<string, ClassSummary>): string {
  return `${JSON.stringify({ model, images, failed, classes: summary }, null, 1)}\n`;
}

/** predictions.coco.json, record by record, exactly as JSON.stringify({ images, categories, annotations }) writes it. */
export function* cocoPredictions(images: readonly AnalysedImage[], classes: readonly string[]): Generator<string> {
  yield '{"images":[';
  for (const [i, { path, result }] of images.entries()) {
    yield `${i > 0 ? ',' : ''}${JSON.stringify({ id: i + 1, file_name: path, width: result.width, height: result.height, ...(result.pixelSize ? { pixel_size_nm: result.pixelSize.x } : {}) })}`;
  }
  yield `],"categories":${JSON.stringify(classes.map((name, i) => ({ id: i + 1, name })))},"annotations":[`;
  let id = 1;
  for (const [i, { result }] of images.entries()) {
    for (const inst of result.instances) {
      yield `${id > 1 ? ',' : ''}${JSON.stringify({
        id: id++, image_id: i + 1, category_id: classes.indexOf(inst.label) + 1, score: inst.score, iscrowd: 0,
        bbox: [inst.box[0], inst.box[1], inst.box[2] - inst.box[0], inst.box[3] - inst.box[1]],
        area: inst.measurements ? (inst.measurements.unit === 'nm' && result.pixelSize ? inst.measurements.area / (result.pixelSize.x * result.pixelSize.y) : inst.measurements.area) : undefined,
        ...(inst.mask ? { segmentation: inst.mask } : {}),
        ...(inst.rbox ? { rbox: inst.rbox } : {}),
      })}`;
    }
  }
  yield ']}';
}

/** One SVG histogram per class and reported measurement. */
export function histograms(summary: Record<string, ClassSummary>, classes: readonly string[]): { name: string; key: string; svg: string }[] {
  const out: { name: string; key: string; svg: string }[] = [];
  for (const [name, c] of Object.entries(summary)) {
    for (const [k, v] of Object.entries(c.measurements)) out.push({ name, key: k, svg: histogramSvg(`${name}: ${k}`, v, measurementUnit(k, c.unit), classColour(classes.indexOf(name))) });
  }
  return out;
}

/** report.html (self-contained). `displayName` turns an image's path into what the report shows. */
export function reportHtml(images: readonly AnalysedImage[], failures: readonly AnalysisFailure[], summary: Record<string, ClassSummary>, hists: readonly { name: string; key: string; svg: string }[], model: string, displayName: (path: string) => string = (p) => p): string {
  const f = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const rows = Object.entries(summary).map(([name, c]) => {
    const ecd = c.measurements.equivalentDiameter;
    return `<tr><td>${escapeXml(name)}</td><td>${c.count}</td><td>${f(c.perUm2)}</td><td>${f(ecd?.mean)} ± ${f(ecd?.std)}</td><td>${f(ecd?.median)}</td><td>${c.unit}</td></tr>`;
  });
  const imageRows = images.map(({ path, result }) => `<tr><td>${escapeXml(displayName(path))}</td><td>${result.width} × ${result.height}</td><td>${result.pixelSize ? `${f(result.pixelSize.x)} nm` : 'uncalibrated'}</td><td>${result.instances.length}</td></tr>`);
  const failed = failures.map((x) => `<li><code>${escapeXml(x.path)}</code>: ${escapeXml(x.error)}</li>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>emseg analysis</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.h{display:flex;flex-wrap:wrap;gap:8px}</style></head><body>
<h1>emseg analysis</h1>
<p>Model <code>${escapeXml(model)}</code>; ${images.length} images analysed${failures.length ? `, ${failures.length} failed` : ''}.</p>
<h2>Per class</h2>
<table><tr><th>class</th><th>count</th><th>per µm²</th><th>ECD mean ± sd</th><th>ECD median</th><th>unit</th></tr>${rows.join('')}</table>
<h2>Distributions</h2><div class="h">${hists.map((h) => h.svg).join('')}</div>
<h2>Images</h2><table><tr><th>image</th><th>size</th><th>pixel</th><th>objects</th></tr>${imageRows.join('')}</table>
${failed.length ? `<h2>Failed</h2><ul>${failed.join('')}</ul>` : ''}
</body></html>
`;
}
