// The emseg web app (`npm run app`; `npm run app:build` writes dist/app/, static and offline): pick or
// drop EM images, choose a zoo model or drop an .onnx, analyse in a Web Worker (sdk-web's Detector),
// see overlays with pan/zoom and auto-contrast, a sortable table in nm, histograms, and download the
// files `emseg analyze` writes (the same bytes: core/outputs/analysis-outputs.ts writes both).
import { decodeImage } from '../core/formats/decode-image.ts';
import { serCompanionEmiPath } from '../core/formats/ser.ts';
import type { EmImage } from '../core/formats/types.ts';
import type { ImageResult } from '../core/inference/types.ts';
import { parseZooTable } from '../core/inference/zoo.ts';
import {
  type AnalysedImage, type AnalysisFailure, MEASUREMENT_KEYS, cocoPredictions, histograms, objectsCsv, overlaySvg, summariseClasses, summaryCsv, summaryJson, toGeoJson,
} from '../core/outputs/analysis-outputs.ts';
import { displayGrey8 } from '../core/preprocess/normalize.ts';
import { browserDecoders } from '../sdk-web/decoders.ts';
import { Detector } from '../sdk-web/detector.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const filesInput = $<HTMLInputElement>('files');
const folderInput = $<HTMLInputElement>('folder');
const modelSelect = $<HTMLSelectElement>('model');
const modelFile = $<HTMLInputElement>('model-file');
const runButton = $<HTMLButtonElement>('run');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLSpanElement>('status');

interface Entry {
  file: File;
  image: EmImage | null;
  error?: string;
  /** The pixel size field (nm/px); empty = uncalibrated. */
  pixelInput?: HTMLInputElement;
  result?: ImageResult;
  figure?: HTMLElement;
}

const entries: Entry[] = [];
let lastRun: { images: AnalysedImage[]; failures: AnalysisFailure[]; classes: string[]; model: string } | null = null;

const IMAGE_NAME = /\.(tiff?|dm3|dm4|mrcs?|map|ser|emd|png|jpe?g)$/i;

async function loadZoo(): Promise<void> {
  const res = await fetch('model-zoo/zoo.json');
  const table = parseZooTable(await res.text(), 'model-zoo/zoo.json');
  for (const [name, e] of Object.entries(table)) {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = `${name}: ${e.description ?? ''}`;
    modelSelect.append(o);
  }
}

/** The image in grey, percentile auto-contrast (16-bit and float images never show black). */
function drawImage(canvas: HTMLCanvasElement, image: EmImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const grey = displayGrey8(image);
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const out = ctx.createImageData(image.width, image.height);
  for (let i = 0; i < grey.length; i++) {
    out.data[4 * i] = out.data[4 * i + 1] = out.data[4 * i + 2] = grey[i];
    out.data[4 * i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}

/** Wheel zooms about the pointer, drag pans. */
function panZoom(view: HTMLElement, stage: HTMLElement, width: number, height: number): void {
  let scale = Math.min(view.clientWidth / width, view.clientHeight / height, 1);
  let x = 0, y = 0;
  const apply = (): void => void (stage.style.transform = `translate(${x}px, ${y}px) scale(${scale})`);
  apply();
  view.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const k = Math.exp(-e.deltaY * 0.0015);
    x = px - (px - x) * k;
    y = py - (py - y) * k;
    scale *= k;
    apply();
  }, { passive: false });
  let drag: { x: number; y: number } | null = null;
  view.addEventListener('pointerdown', (e) => void (drag = { x: e.clientX - x, y: e.clientY - y }));
  view.addEventListener('pointermove', (e) => {
    if (!drag) return;
    x = e.clientX - drag.x;
    y = e.clientY - drag.y;
    apply();
  });
  view.addEventListener('pointerup', () => void (drag = null));
}

/** TIA's .emi files dropped with their .ser images: they tell real-space from diffraction calibration. */
const emiFiles = new Map<string, File>();

async function addFiles(files: Iterable<File>): Promise<void> {
  const all = [...files];
  for (const f of all) if (/\.emi$/i.test(f.name)) emiFiles.set(f.name, f);
  const list = all.filter((f) => IMAGE_NAME.test(f.name));
  const decoders = {
    ...browserDecoders,
    serCompanion: async (name: string) => {
      const emi = emiFiles.get(serCompanionEmiPath(name) ?? '');
      return emi ? new Uint8Array(await emi.arrayBuffer()) : undefined;
    },
  };
  for (const file of list) {
    const entry: Entry = { file, image: null };
    entries.push(entry);
    const figure = document.createElement('figure');
    entry.figure = figure;
    $('images').append(figure);
    try {
      entry.image = await decodeImage(new Uint8Array(await file.arrayBuffer()), file.name, 0, decoders);
    } catch (e) {
      entry.error = (e as Error).message;
      figure.textContent = entry.error;
      continue;
    }
    const im = entry.image;
    const view = document.createElement('div');
    view.className = 'view';
    const stage = document.createElement('div');
    stage.className = 'stage';
    const canvas = document.createElement('canvas');
    drawImage(canvas, im);
    stage.append(canvas);
    view.append(stage);
    const caption = document.createElement('figcaption');
    const pixel = document.createElement('input');
    pixel.type = 'number';
    pixel.step = 'any';
    pixel.min = '0';
    pixel.value = im.pixelSize ? String(im.pixelSize.x) : '';
    pixel.title = 'nm per pixel (from the file; edit to override; empty: uncalibrated)';
    entry.pixelInput = pixel;
    caption.append(`${file.name}: ${im.width} × ${im.height} ${im.dtype}, nm/px `, pixel);
    figure.append(view, caption);
    panZoom(view, stage, im.width, im.height);
  }
  runButton.disabled = entries.every((e) => !e.image);
  status.textContent = `${entries.filter((e) => e.image).length} images`;
}

function showOverlay(entry: Entry, classes: string[]): void {
  const stage = entry.figure?.querySelector('.stage');
  if (!stage || !entry.result) return;
  stage.querySelector('svg')?.remove();
  stage.insertAdjacentHTML('beforeend', overlaySvg(entry.result, classes));
}

/** The files offered for download, by name (tests read them through `emsegApp.download`). */
const offered = new Map<string, Blob>();

/** A download link for a blob. */
function downloadBlob(name: string, blob: Blob): HTMLAnchorElement {
  offered.set(name, blob);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.textContent = name;
  return a;
}

const download = (name: string, chunks: Iterable<string>, type: string): HTMLAnchorElement => downloadBlob(name, new Blob([...chunks], { type }));

/** The overlay as a PNG (image + outlines), as `emseg analyze --overlay` draws it. */
async function overlayPng(entry: Entry, classes: string[]): Promise<Blob> {
  const im = entry.image as EmImage;
  const canvas = document.createElement('canvas');
  drawImage(canvas, im);
  const svg = new Blob([overlaySvg(entry.result as ImageResult, classes)], { type: 'image/svg+xml' });
  const img = new Image();
  img.src = URL.createObjectURL(svg);
  await img.decode();
  (canvas.getContext('2d') as CanvasRenderingContext2D).drawImage(img, 0, 0);
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b as Blob), 'image/png'));
}

const COLUMNS = ['image', 'object', 'label', 'score', 'unit', 'equivalentDiameter', 'area', 'length', 'width', 'aspectRatio', 'circularity'] as const;

function renderTable(images: AnalysedImage[]): void {
  const rows = images.flatMap(({ path, result }) => result.instances.map((inst, i) => ({ image: path, object: i, label: inst.label, score: inst.score, unit: inst.measurements?.unit ?? 'px', ...Object.fromEntries(MEASUREMENT_KEYS.map((k) => [k, inst.measurements?.[k]])) }) as Record<string, unknown>));
  const table = $<HTMLTableElement>('objects');
  const head = table.tHead as HTMLTableSectionElement;
  const body = table.tBodies[0];
  let sortKey: string = 'image';
  let ascending = true;
  const fill = (): void => {
    const sorted = [...rows].sort((a, b) => {
      const u = a[sortKey], v = b[sortKey];
      const c = typeof u === 'number' && typeof v === 'number' ? u - v : String(u ?? '').localeCompare(String(v ?? ''));
      return ascending ? c : -c;
    });
    body.replaceChildren(...sorted.map((r) => {
      const tr = document.createElement('tr');
      for (const k of COLUMNS) {
        const td = document.createElement('td');
        const v = r[k];
        td.textContent = typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : String(v ?? '');
        tr.append(td);
      }
      return tr;
    }));
  };
  const tr = document.createElement('tr');
  for (const k of COLUMNS) {
    const th = document.createElement('th');
    th.textContent = k;
    th.addEventListener('click', () => {
      ascending = sortKey === k ? !ascending : true;
      sortKey = k;
      fill();
    });
    tr.append(th);
  }
  head.replaceChildren(tr);
  fill();
}

async function analyse(): Promise<void> {
  const todo = entries.filter((e) => e.image);
  const own = modelFile.files?.[0];
  const modelName = own ? own.name : modelSelect.value;
  const detector = new Detector(own ? await own.arrayBuffer() : modelSelect.value, { log: (line) => void (status.textContent = line) });
  runButton.disabled = true;
  progress.hidden = false;
  progress.max = todo.length;
  progress.value = 0;
  try {
    const classes = await detector.reportedClasses();
    const images: AnalysedImage[] = [];
    const failures: AnalysisFailure[] = [];
    for (const entry of todo) {
      status.textContent = `analysing ${entry.file.name} (${progress.value + 1} of ${todo.length})`;
      // The file's calibration unless the field was edited (an edit sets both axes; empty: uncalibrated).
      const typed = entry.pixelInput?.value.trim() ?? '';
      const fromFile = entry.image?.pixelSize ? String(entry.image.pixelSize.x) : '';
      const nm = Number(typed);
      const overrides = typed === fromFile ? undefined : { pixelSize: typed === '' || !(nm > 0) ? null : { x: nm, y: nm } };
      try {
        // The worker decodes the file again: the page keeps its decoded copy for display only.
        entry.result = await detector.run(await entry.file.arrayBuffer(), entry.file.name, overrides);
        images.push({ path: entry.file.name, result: entry.result });
        showOverlay(entry, classes);
      } catch (e) {
        failures.push({ path: entry.file.name, error: (e as Error).message });
      }
      progress.value += 1;
    }
    lastRun = { images, failures, classes, model: modelName };
    const summary = summariseClasses(images, classes);
    $('histograms').innerHTML = histograms(summary, classes).map((h) => h.svg).join('');
    renderTable(images);
    const links = $('downloads');
    links.replaceChildren(
      download('objects.csv', objectsCsv(images), 'text/csv'),
      download('summary.csv', [summaryCsv(summary)], 'text/csv'),
      download('summary.json', [summaryJson(modelName, images.length, failures, summary)], 'application/json'),
      download('predictions.coco.json', cocoPredictions(images, classes), 'application/json'),
    );
    for (const entry of todo.filter((e) => e.result)) {
      const stem = entry.file.name.replace(/\.[^.]+$/, '');
      links.append(download(`${stem}.geojson`, [JSON.stringify(toGeoJson(entry.result as ImageResult, classes))], 'application/geo+json'));
      links.append(downloadBlob(`${stem}.png`, await overlayPng(entry, classes)));
    }
    $('results').hidden = false;
    status.textContent = `${images.reduce((n, r) => n + r.result.instances.length, 0)} objects in ${images.length} images${failures.length ? `; ${failures.length} failed` : ''} (${await detector.provider()})`;
  } catch (e) {
    status.textContent = `error: ${(e as Error).message}`;
  } finally {
    await detector.dispose();
    runButton.disabled = false;
  }
}

filesInput.addEventListener('change', () => void addFiles(filesInput.files ?? []));
folderInput.addEventListener('change', () => void addFiles(folderInput.files ?? []));
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  void addFiles(e.dataTransfer?.files ?? []);
});
runButton.addEventListener('click', () => void analyse());
void loadZoo();
/** For tests and scripts: the last analysis, as the downloads hold it. */
(globalThis as { emsegApp?: unknown }).emsegApp = {
  last: () => lastRun,
  entries: () => entries.length,
  /** A download's text (or, for a PNG, its size in bytes). */
  download: async (name: string) => {
    const b = offered.get(name);
    return b === undefined ? undefined : name.endsWith('.png') ? b.size : b.text();
  },
};
