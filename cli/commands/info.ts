import { parseArgs } from 'node:util';
import { isEmsegError } from '../../core/errors.ts';
import type { EmImage } from '../../core/formats/types.ts';
import type { ModelInfo } from '../../core/inference/model-contract.ts';
import { readImage } from '../../sdk-node/read-image.ts';
import { UsageError } from '../usage-error.ts';

export const infoUsage = `Usage: emseg info FILE... [--json] [--page N]

Print format, size, pixel type and calibration (nm per pixel) of EM images: DM3, DM4, MRC/MRCS,
SER (with its .emi), Velox and Berkeley EMD, TIFF (FEI/Thermo, Zeiss, ImageJ calibration), PNG, JPEG;
and of emseg models (.onnx): task, classes, training pixel size, version (from the metadata only).
  --json     one JSON object per file {file, format, width, height, dtype, pixelSize} (an array for
             several files); pixelSize is {x, y, unit: "nm"} or null when the file has no length
             calibration
  --page N   image N of a stack or multi-page file (default 0)
A file that cannot be read is reported (with "error" in JSON) and the exit code is 1.`;

export interface InfoRecord {
  file: string;
  format: string;
  width: number;
  height: number;
  dtype: string;
  pixelSize: { x: number; y: number; unit: 'nm' } | null;
  pages?: number;
  calibration?: unknown;
}

export function infoRecord(file: string, im: EmImage): InfoRecord {
  const rec: InfoRecord = {
    file,
    format: im.format,
    width: im.width,
    height: im.height,
    dtype: im.dtype,
    pixelSize: im.pixelSize ? { x: im.pixelSize.x, y: im.pixelSize.y, unit: 'nm' } : null,
  };
  if (typeof im.metadata.pages === 'number' && im.metadata.pages > 1) rec.pages = im.metadata.pages;
  // A non-length calibration (e.g. diffraction in 1/nm) is reported as stored; a unitless one is not.
  const cal = im.metadata.calibration as { unit?: unknown } | null | undefined;
  if (!im.pixelSize && cal && typeof cal.unit === 'string' && cal.unit !== '') rec.calibration = cal;
  return rec;
}

interface ModelRecord {
  file: string;
  model: ModelInfo;
}

/** A model's metadata (no weights decoded, no session opened); the SDK is loaded only for models. */
async function modelRecord(file: string): Promise<ModelRecord> {
  const { Detector } = await import('../../sdk-node/detector.ts');
  return { file, model: await new Detector(file).info() };
}

export async function infoCommand(argv: string[], out: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, page: { type: 'string', default: '0' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('give one or more image files');
  const page = Number(values.page);
  if (!Number.isInteger(page) || page < 0) throw new UsageError(`--page must be a non-negative integer, received "${values.page}"`);
  const records: (InfoRecord | ModelRecord | { file: string; error: string; code: string })[] = [];
  let failed = 0;
  for (const file of positionals) {
    try {
      records.push(/\.onnx$/i.test(file) ? await modelRecord(file) : infoRecord(file, await readImage(file, { page })));
    } catch (e) {
      if (!isEmsegError(e)) throw e;
      failed++;
      records.push({ file, error: e.message, code: e.code });
      if (!values.json) process.stderr.write(`emseg info: error ${e.code}: ${e.message}\n`);
    }
  }
  if (values.json) out(JSON.stringify(records.length === 1 ? records[0] : records));
  else {
    for (const r of records) {
      if ('error' in r) continue;
      if ('model' in r) {
        const m = r.model;
        out(`${r.file}: emseg model, ${m.task}, classes ${m.classes.join(', ')}, trained at ${m.pixelSizeNm === null ? 'an uncalibrated pixel size' : `${fmt(m.pixelSizeNm)} nm/px`}, version ${m.version}`);
        continue;
      }
      const cal = r.pixelSize
        ? `${fmt(r.pixelSize.x)}${r.pixelSize.y !== r.pixelSize.x ? ` x ${fmt(r.pixelSize.y)}` : ''} nm/px`
        : r.calibration ? `uncalibrated in length (${JSON.stringify(r.calibration)})` : 'uncalibrated';
      out(`${r.file}: ${r.format} ${r.width} x ${r.height} ${r.dtype}${r.pages ? `, ${r.pages} pages` : ''}, ${cal}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

const fmt = (v: number) => (Math.abs(v) >= 0.01 ? Number(v.toPrecision(6)).toString() : v.toExponential(5));
