import { mkdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import sharp from 'sharp';
import type { EmImage } from '../../core/formats/types.ts';
import type { ImageResult } from '../../core/inference/types.ts';
import {
  type AnalysedImage, cocoPredictions, histograms, objectsCsv, overlaySvg, reportHtml, summariseClasses, summaryCsv, summaryJson, toGeoJson,
} from '../../core/outputs/analysis-outputs.ts';
import { displayGrey8 } from '../../core/preprocess/normalize.ts';
import { writeChunksAtomic, writeFileAtomic } from '../write-file.ts';
import type { AnalysisSummary } from './run-analysis.ts';

export { toGeoJson };

/**
 * What `emseg analyze` writes, as files: the contents come from core/outputs/analysis-outputs.ts (the
 * web app writes the same bytes); here only the overlay's rasterisation (sharp) and atomic writes.
 */

/** Overlay PNG: the percentile-normalised image in grey, each object's outline in its class colour. */
export async function writeOverlay(file: string, image: EmImage, result: ImageResult, classes: readonly string[]): Promise<void> {
  const grey = displayGrey8(image);
  const png = await sharp(grey, { raw: { width: image.width, height: image.height, channels: 1 } })
    .toColourspace('srgb')
    .composite([{ input: Buffer.from(overlaySvg(result, classes)), top: 0, left: 0 }])
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(file, png);
}

/** All end-of-run files. Returns the paths written (relative to `out`). */
export async function writeAggregateOutputs(out: string, s: AnalysisSummary, classes: readonly string[], formats: ReadonlySet<string>, meta: { model: string; report: boolean }): Promise<string[]> {
  const written: string[] = [];
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    await writeFileAtomic(join(out, name), data);
    written.push(name);
  };
  const putChunks = async (name: string, chunks: Iterable<string>): Promise<void> => {
    await writeChunksAtomic(join(out, name), chunks);
    written.push(name);
  };
  const images: AnalysedImage[] = s.records.map(({ path, record }) => ({ path, result: record.result }));
  const summary = summariseClasses(images, classes);
  if (formats.has('csv')) {
    await putChunks('objects.csv', objectsCsv(images));
    await put('summary.csv', summaryCsv(summary));
  }
  if (formats.has('json')) await put('summary.json', summaryJson(meta.model, images.length, s.failures, summary));
  if (formats.has('coco')) await putChunks('predictions.coco.json', cocoPredictions(images, classes));
  const hists = histograms(summary, classes);
  if (hists.length > 0) await mkdir(join(out, 'histograms'), { recursive: true });
  for (const h of hists) await put(join('histograms', `${h.name}-${h.key}.svg`), h.svg);
  if (meta.report) await put('report.html', reportHtml(images, s.failures, summary, hists, meta.model, (p) => relative(out, p) || basename(p)));
  return written;
}
