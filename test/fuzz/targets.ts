import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CocoDataset, IouType } from '../../core/coco/types.ts';
import type { CheckpointManifest } from '../../model/checkpoint.ts';
import type { MaskRcnnConfig } from '../../model/detection/mask-config.ts';
import type { RotatedRcnnConfig } from '../../model/detection/config.ts';
import type { ParamSpec } from '../../model/net/spec.ts';
import type { onnx as onnxNamespace } from '../../onnx/proto.ts';
import { repoRoot, sharedDir } from '../helpers/fixtures.ts';
import { INPUT_NAME } from './fuzz-core.ts';
import {
  type ByteSeed,
  applyByteOps,
  applyTextOps,
  bytePlan,
  dmHotspots,
  jsonPlan,
  mrcHotspots,
  mutatedBytes,
  mutateJsonText,
  mutatedJson,
  mutatedXml,
  protobufHotspots,
  serHotspots,
  tiffHotspots,
} from './mutators.ts';

/**
 * The fuzz targets: every parser and loader emseg runs on a file a user hands it. Each target has
 * seed inputs (real files from ../shared/data and the zoo, plus small generated ones: seeds.ts), a
 * fast-check arbitrary that turns the seeds into mutated inputs (mutators.ts), and `run`, which
 * feeds one input to the code under test the way emseg's own callers do. The contract checked by
 * run-fuzz.ts: `run` resolves, or rejects with an EmsegError carrying a code; never another error
 * type, never a hang, with bounded memory.
 *
 * Every input is named so that it contains INPUT_NAME, so that the runner can also check that an
 * error message names the file.
 */

export { INPUT_NAME };

export interface RunContext {
  /** A scratch folder of the worker, emptied between inputs by the target when it writes files. */
  dir: string;
}

export interface FuzzTarget<S = unknown, I extends { seed: string } = { seed: string }> {
  name: string;
  /** What is fuzzed, for reports and docs/fuzzing.md. */
  what: string;
  /** 'worker': a worker thread; 'child': a child process (native runtimes that could crash the process). */
  isolation: 'worker' | 'child';
  /** Inputs in the CI test (test/fuzz/fuzz.test.ts) and in `npm run fuzz`. */
  testCount: number;
  longCount: number;
  /** Seconds per input rather than milliseconds: `--count` does not apply, only `--count-<name>`. */
  costly?: boolean;
  seeds(): Promise<S[]>;
  mutate(seeds: S[]): fc.Arbitrary<I>;
  run(input: I, ctx: RunContext): Promise<unknown>;
}

// Fast-check arbitraries are invariant in their type; targets are listed as FuzzTarget<any, any>.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = FuzzTarget<any, any>;

const EM = join(sharedDir, 'data', 'em-formats');
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const files = (dir: string, re: RegExp): string[] => readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
/** The page asked for: mostly 0, sometimes the next ones or past the end. */
const page = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) });

function byteSeeds(list: { label: string; bytes: Uint8Array }[], hot: (b: Uint8Array) => number[]): ByteSeed[] {
  return list.map((s) => ({ ...s, hot: hot(s.bytes) }));
}

/** A binary image format through the Node reader (`readImageBytes`, as `Detector.run(bytes)` and the CLI use it). */
function imageTarget(name: string, what: string, ext: string, seeds: () => Promise<ByteSeed[]>, counts: { test: number; long: number }): FuzzTarget<ByteSeed, { seed: string; bytes: Uint8Array; page: number }> {
  return {
    name,
    what,
    isolation: 'worker',
    testCount: counts.test,
    longCount: counts.long,
    seeds,
    mutate: (s) => fc.tuple(mutatedBytes(s), page).map(([m, p]) => ({ ...m, page: p })),
    run: async (input) => (await import('../../sdk-node/read-image.ts')).readImageBytes(input.bytes, `${INPUT_NAME}.${ext}`, { page: input.page }),
  };
}

// ---------------------------------------------------------------------------------------------
// Microscope formats
// ---------------------------------------------------------------------------------------------

const dm = imageTarget(
  'dm',
  'DM3/DM4 (core/formats/dm.ts) through readImageBytes: 12 real files, mutations steered to the tag headers and type descriptions',
  'dm3',
  async () => byteSeeds(
    [...files(join(EM, 'dm3'), /\.dm3$/), ...files(join(EM, 'dm4'), /\.dm4$/)].map((f) => ({ label: f.slice(EM.length + 1), bytes: read(f) })),
    dmHotspots,
  ),
  { test: 400, long: 10_000 },
);

const mrc = imageTarget(
  'mrc',
  'MRC/MRCS/CCP4 (core/formats/mrc.ts) through readImageBytes: 3 real files and 6 generated (both byte orders, no machine stamp, float16, IMOD, extended header, stacks)',
  'mrc',
  async () => byteSeeds([...files(join(EM, 'mrc'), /\.(mrc|mrcs|map)$/).map((f) => ({ label: f.slice(EM.length + 1), bytes: read(f) })), ...(await import('./seeds.ts')).mrcSeeds()], mrcHotspots),
  { test: 400, long: 10_000 },
);

interface SerSeed extends ByteSeed {
  emi: Uint8Array | undefined;
}

const ser: FuzzTarget<SerSeed, { seed: string; bytes: Uint8Array; emi: Uint8Array | undefined; page: number }> = {
  name: 'ser',
  what: 'TIA SER (core/formats/ser.ts readSer) with its companion .emi: 4 real pairs and 4 generated series (v0x210 and v0x220, 1-3 frames, time and position tags); the .ser, the .emi or both mutated',
  isolation: 'worker',
  testCount: 400,
  longCount: 10_000,
  async seeds() {
    const real = files(join(EM, 'ser'), /\.ser$/).map((f) => {
      const emi = read(f.replace(/_\d+\.ser$/, '.emi'));
      const bytes = read(f);
      return { label: f.slice(EM.length + 1), bytes, hot: serHotspots(bytes), emi };
    });
    const gen = (await import('./seeds.ts')).serSeeds().map((s) => ({ ...s, hot: serHotspots(s.bytes), emi: undefined }));
    return [...real, ...gen];
  },
  mutate(seeds) {
    return fc.record({ ser: bytePlan(seeds.length), emi: fc.option(bytePlan(1, false), { nil: undefined }), which: fc.constantFrom('ser', 'ser', 'ser', 'emi', 'both'), page }).map(({ ser: plan, emi, which, page: p }) => {
      const s = seeds[plan.seed];
      const bytes = which === 'emi' ? s.bytes : applyByteOps(s.bytes, plan.ops, s.hot);
      const emiBytes = s.emi && emi && which !== 'ser' ? applyByteOps(s.emi, emi.ops) : s.emi;
      return { seed: s.label, bytes, emi: emiBytes, page: p };
    });
  },
  run: async (input) => (await import('../../core/formats/ser.ts')).readSer(input.bytes, { name: `${INPUT_NAME}_1.ser`, page: input.page, emi: input.emi }),
};

const tiff = imageTarget(
  'tiff',
  'TIFF/BigTIFF (core/formats/tiff.ts readTiffInfo/readTiffPixels; compressed pages through sharp) via readImageBytes: 5 real FEI/Zeiss/ImageJ files and 12 generated (multi-page, big-endian, BigTIFF, tiled, LZW/Deflate/JPEG/PackBits), mutations steered to IFD entries',
  'tif',
  async () => byteSeeds([
    ...files(join(EM, 'tiff'), /\.tif$/).map((f) => ({ label: f.slice(EM.length + 1), bytes: read(f) })),
    ...(await (await import('./seeds.ts')).tiffSeeds(join(sharedDir, 'data', 'deepsem-nanowires', 'images', '125nm_03_cropped_x0_y0.png'))),
  ], tiffHotspots),
  { test: 400, long: 10_000 },
);

const emd: FuzzTarget<ByteSeed, { seed: string; bytes: Uint8Array; page: number }> = {
  name: 'emd',
  what: 'EMD (HDF5: Velox and Berkeley; sdk-node/hdf5-h5wasm.ts + core/formats/emd.ts) through readImage on a file: 2 real files and 2 small generated ones (h5wasm)',
  // A child process: HDF5 (WebAssembly) writes its error stacks straight to file descriptor 2, and an abort inside it must not take the runner down.
  isolation: 'child',
  testCount: 150,
  longCount: 10_000,
  seeds: async () => byteSeeds([...files(join(EM, 'emd'), /\.emd$/).map((f) => ({ label: f.slice(EM.length + 1), bytes: read(f) })), ...(await (await import('./seeds.ts')).emdSeeds())], () => []),
  mutate: (s) => fc.tuple(mutatedBytes(s), page).map(([m, p]) => ({ ...m, page: p })),
  run: async (input, ctx) => {
    const path = join(ctx.dir, `${INPUT_NAME}.emd`);
    writeFileSync(path, input.bytes);
    return (await import('../../sdk-node/read-image.ts')).readImage(path, { page: input.page });
  },
};

const raster = imageTarget(
  'png-jpeg',
  'PNG and JPEG (sharp) through readImageBytes: crops of real EM images (DeepSEM, EMPS) as grey/RGB/16-bit/palette/interlaced PNG and baseline/progressive JPEG',
  'png',
  async () => byteSeeds(await (await import('./seeds.ts')).rasterSeeds([
    join(sharedDir, 'data', 'deepsem-nanowires', 'images', '125nm_03_cropped_x0_y0.png'),
    join(sharedDir, 'data', 'emps-train', 'images', '00655d9628.png'),
  ]), () => []),
  { test: 300, long: 10_000 },
);

// ---------------------------------------------------------------------------------------------
// Annotations
// ---------------------------------------------------------------------------------------------

const COCO_FIXTURES = join(sharedDir, 'fixtures', 'coco-eval');
const IOU = fc.constantFrom<IouType>('bbox', 'segm', 'rbox');

const cocoDataset: FuzzTarget<{ label: string; value: unknown }, { seed: string; text: string; iouType: IouType }> = {
  name: 'coco-dataset',
  what: 'COCO datasets (core/coco/load.ts loadGroundTruth: JSON, validation, areas from masks): 4 generated datasets (boxes, polygons, RLE both ways, rotated boxes) and the 3 ground truths of ../shared/fixtures/coco-eval',
  isolation: 'worker',
  testCount: 400,
  longCount: 10_000,
  seeds: async () => [
    ...(await import('./seeds.ts')).cocoSeeds(),
    ...['bbox_basic', 'rbox_rods', 'segm_poly'].map((n) => ({ label: `coco-eval/${n}.gt.json`, value: JSON.parse(readFileSync(join(COCO_FIXTURES, `${n}.gt.json`), 'utf8')) as unknown })),
  ],
  mutate: (s) => fc.tuple(mutatedJson(s), IOU).map(([m, iouType]) => ({ ...m, iouType })),
  run: async (input) => (await import('../../core/coco/load.ts')).loadGroundTruth(input.text, `${INPUT_NAME}.json`, input.iouType),
};

interface ResultsSeed {
  label: string;
  value: unknown;
  gt: CocoDataset;
  iouType: IouType;
}

const cocoResults: FuzzTarget<ResultsSeed, { seed: string; text: string; iouType: IouType }> = {
  name: 'coco-results',
  what: 'COCO result lists (core/coco/load.ts loadCocoResults) against their ground truth: the 3 detection files of ../shared/fixtures/coco-eval',
  isolation: 'worker',
  testCount: 300,
  longCount: 10_000,
  seeds: async () => {
    const { loadGroundTruth } = await import('../../core/coco/load.ts');
    return (['bbox_basic', 'rbox_rods', 'segm_poly'] as const).map((n) => {
    const iouType: IouType = n === 'bbox_basic' ? 'bbox' : n === 'rbox_rods' ? 'rbox' : 'segm';
    const gtPath = join(COCO_FIXTURES, `${n}.gt.json`);
    return {
      label: `coco-eval/${n}.dt.json`,
      value: JSON.parse(readFileSync(join(COCO_FIXTURES, `${n}.dt.json`), 'utf8')) as unknown,
      gt: loadGroundTruth(readFileSync(gtPath, 'utf8'), gtPath, iouType),
      iouType,
    };
  });
  },
  mutate: (seeds) => fc.tuple(mutatedJson(seeds), fc.option(IOU, { nil: undefined, freq: 3 })).map(([m, other]) => {
    const s = seeds.find((x) => x.label === m.seed) as ResultsSeed;
    return { ...m, iouType: other ?? s.iouType };
  }),
  run: async (input) => {
    // The ground truth is the seed's (cached per worker): results are validated against it.
    const gt = RESULT_GT.get(input.seed);
    if (!gt) throw new Error(`no ground truth for ${input.seed}`);
    return (await import('../../core/coco/load.ts')).loadCocoResults(input.text, `${INPUT_NAME}.json`, gt, input.iouType);
  },
};
const RESULT_GT = new Map<string, CocoDataset>();
const resultsSeeds = cocoResults.seeds;
cocoResults.seeds = async () => {
  const list = await resultsSeeds();
  for (const s of list) RESULT_GT.set(s.label, s.gt);
  return list;
};

const labelbox: FuzzTarget<{ label: string; value: unknown }, { seed: string; text: string }> = {
  name: 'labelbox',
  what: 'Labelbox v1 JSON exports (core/convert/labelbox.ts parseLabelboxExport after parseJsonText, as emseg convert does): 2 rows of each DeepSEM export (8 objects each) plus skipped and empty rows',
  isolation: 'worker',
  testCount: 300,
  longCount: 10_000,
  seeds: async () => {
    const dir = join(sharedDir, 'data', 'deepsem-nanowires', 'labels');
    return files(dir, /\.json$/).map((f) => {
      const rows = (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>[]).slice(0, 2).map((r) => {
        const label = r.Label as { objects?: unknown[] } | string | undefined;
        return typeof label === 'object' && label && Array.isArray(label.objects) ? { ...r, Label: { ...label, objects: label.objects.slice(0, 8) } } : r;
      });
      return { label: `deepsem-nanowires/labels/${f.split('/').pop()}`, value: [...rows, { ID: 'x', 'External ID': 'skipped.png', Label: 'Skip' }, { 'External ID': 'empty.png', Label: {} }] as unknown };
    });
  },
  mutate: (s) => mutatedJson(s),
  run: async (input) => {
    const { parseJsonText } = await import('../../core/coco/json.ts');
    const { parseLabelboxExport } = await import('../../core/convert/labelbox.ts');
    return parseLabelboxExport(parseJsonText(input.text, `${INPUT_NAME}.json`), `${INPUT_NAME}.json`);
  },
};

const voc: FuzzTarget<{ label: string; text: string }, { seed: string; text: string }> = {
  name: 'voc-xml',
  what: 'Pascal VOC / roLabelImg XML (core/convert/voc-xml.ts parseVocXml): 3 generated files (boxes, rotated boxes, no objects); element-aware edits, entity expansion, deep nesting',
  isolation: 'worker',
  testCount: 400,
  longCount: 10_000,
  seeds: async () => (await import('./seeds.ts')).vocSeeds(),
  mutate: (s) => mutatedXml(s),
  run: async (input) => (await import('../../core/convert/voc-xml.ts')).parseVocXml(input.text, `${INPUT_NAME}.xml`),
};

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

interface CheckpointSeed {
  label: string;
  manifest: CheckpointManifest;
  params: Uint8Array;
}

async function smallConfig(task: 'rotated' | 'mask'): Promise<RotatedRcnnConfig | MaskRcnnConfig> {
  const { defaultRotatedRcnnConfig } = await import('../../model/detection/config.ts');
  const { defaultMaskRcnnConfig } = await import('../../model/detection/mask-config.ts');
  if (task === 'rotated') {
    const c = defaultRotatedRcnnConfig(['rod', 'particle']);
    return { ...c, backbone: { widths: [8, 16, 16, 32], blocks: [1, 1, 1, 1], norm: 'gn' }, fpnChannels: 8, roi: { ...c.roi, fcDim: 16 } };
  }
  const c = defaultMaskRcnnConfig(['vesicle']);
  return { ...c, backbone: { widths: [8, 8, 16, 16], blocks: [1, 1, 1, 1], norm: 'gn' }, fpnChannels: 8, roi: { ...c.roi, fcDim: 16 }, mask: { ...c.mask, convDim: 8, numConvs: 1 } };
}

async function checkpointSeed(label: string, config: RotatedRcnnConfig | MaskRcnnConfig): Promise<CheckpointSeed> {
  const { modelSpecs } = await import('../../model/detection/model-specs.ts');
  const { paramsOf } = await import('../../model/net/spec.ts');
  const params = modelSpecs(config).flatMap((spec) => paramsOf(spec)).map((p) => ({ name: p.name, shape: p.shape }));
  const count = params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const values = Float32Array.from({ length: count }, (_, i) => Math.sin(i) * 0.1);
  return {
    label,
    manifest: { format: 'emseg-checkpoint-1', task: config.task, step: 120, paramCount: count, config, metrics: { loss: 0.5, best: { step: 100 } }, params },
    params: new Uint8Array(values.buffer),
  };
}

type CheckpointInput = { seed: string; manifest: string | null; params: Uint8Array | null; momentum: Uint8Array | null; old: boolean };

const checkpoint: FuzzTarget<CheckpointSeed, CheckpointInput> = {
  name: 'checkpoint',
  what: 'Checkpoint folders (model/checkpoint.ts loadCheckpoint, then export/detection/checkpoint.ts readDetectorCheckpoint as emseg-export runs it): small rotated and Mask R-CNN checkpoints; manifest JSON mutated as a tree, params.bin/momentum.bin as bytes, files missing, the .old fallback',
  isolation: 'worker',
  testCount: 300,
  longCount: 10_000,
  seeds: async () => [await checkpointSeed('gen/rotated-checkpoint', await smallConfig('rotated')), await checkpointSeed('gen/mask-checkpoint', await smallConfig('mask'))],
  mutate(seeds) {
    return fc.record({
      seed: fc.nat({ max: seeds.length - 1 }),
      json: jsonPlan(1),
      bytes: bytePlan(1, false),
      which: fc.constantFrom('manifest', 'manifest', 'manifest', 'params', 'both', 'momentum'),
      drop: fc.constantFrom(null, null, null, null, null, null, 'manifest', 'params'),
      momentum: fc.boolean(),
      old: fc.boolean(),
    }).map((p) => {
      const s = seeds[p.seed];
      const manifestText = p.which === 'manifest' || p.which === 'both'
        ? mutateJsonText(s.manifest, p.json.ops, p.json.text)
        : JSON.stringify(s.manifest, null, 1);
      const params = p.which === 'params' || p.which === 'both' ? applyByteOps(s.params, p.bytes.ops) : s.params;
      const momentum = p.which === 'momentum' ? applyByteOps(s.params, p.bytes.ops) : p.momentum ? s.params : null;
      return { seed: s.label, manifest: p.drop === 'manifest' ? null : manifestText, params: p.drop === 'params' ? null : params, momentum, old: p.old && p.which !== 'manifest' };
    });
  },
  async run(input, ctx) {
    const dir = join(ctx.dir, `${INPUT_NAME}-checkpoint`);
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.old`, { recursive: true, force: true });
    // `old`: the files sit in <dir>.old, as after a save interrupted mid-rename.
    const at = input.old ? `${dir}.old` : dir;
    mkdirSync(at, { recursive: true });
    if (input.old) mkdirSync(dir, { recursive: true });
    if (input.manifest !== null) writeFileSync(join(at, 'manifest.json'), input.manifest);
    if (input.params !== null) writeFileSync(join(at, 'params.bin'), input.params);
    if (input.momentum !== null) writeFileSync(join(at, 'momentum.bin'), input.momentum);
    const loaded = await (await import('../../model/checkpoint.ts')).loadCheckpoint(dir);
    // What emseg-export does next with it: the config checked field by field, the weights split.
    const detector = await (await import('../../export/detection/checkpoint.ts')).readDetectorCheckpoint(dir);
    return { step: loaded.manifest.step, params: detector.paramCount };
  },
};

// ---------------------------------------------------------------------------------------------
// ONNX
// ---------------------------------------------------------------------------------------------

const ZOO = join(repoRoot, 'model-zoo');

/** A reader of consecutive protobuf varints from `b` (valid seed files only: no bounds checks). */
function varintReader(b: Uint8Array): { next(): number; pos: number } {
  const r = {
    pos: 0,
    next(): number {
      let v = 0;
      let scale = 1;
      for (;;) {
        const x = b[r.pos++];
        v += (x & 0x7f) * scale;
        if (!(x & 0x80)) return v;
        scale *= 128;
      }
    },
  };
  return r;
}

/** Top-level protobuf fields of a model: [field, start, end) of each. */
function topLevelFields(b: Uint8Array): { field: number; start: number; end: number }[] {
  const out: { field: number; start: number; end: number }[] = [];
  const r = varintReader(b);
  while (r.pos < b.length) {
    const start = r.pos;
    const tag = r.next();
    const wire = tag % 8;
    if (wire === 0) r.next();
    else if (wire === 2) r.pos += r.next();
    else if (wire === 1) r.pos += 8;
    else r.pos += 4;
    out.push({ field: Math.floor(tag / 8), start, end: r.pos });
  }
  return out;
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function metadataEntry(key: string, value: string): Uint8Array {
  const enc = new TextEncoder();
  const k = enc.encode(key);
  const v = enc.encode(value);
  const body = [0x0a, ...varintBytes(k.length), ...k, 0x12, ...varintBytes(v.length), ...v];
  return Uint8Array.from([0x72, ...varintBytes(body.length), ...body]);
}

interface OnnxSeed extends ByteSeed {
  /** Top-level fields other than metadata_props, and the metadata entries (key, value). */
  rest: Uint8Array;
  metadata: [string, string][];
}

function onnxSeed(label: string, bytes: Uint8Array, hotDepth: number): OnnxSeed {
  const fields = topLevelFields(bytes);
  const restParts = fields.filter((f) => f.field !== 14).map((f) => bytes.subarray(f.start, f.end));
  const rest = new Uint8Array(restParts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of restParts) {
    rest.set(p, at);
    at += p.length;
  }
  const metadata: [string, string][] = [];
  for (const f of fields.filter((x) => x.field === 14)) {
    const sub = bytes.subarray(f.start, f.end);
    const r = varintReader(sub);
    r.next(); // tag
    r.next(); // length
    let key = '';
    let value = '';
    while (r.pos < sub.length) {
      const tag = r.next();
      const len = r.next();
      const text = new TextDecoder().decode(sub.subarray(r.pos, r.pos + len));
      r.pos += len;
      if (tag >> 3 === 1) key = text;
      else value = text;
    }
    metadata.push([key, value]);
  }
  // Hot: top-level tags and lengths, plus nested ones a few levels into small models.
  const hot = hotDepth > 0 ? protobufHotspots(bytes, hotDepth) : fields.flatMap((f) => [f.start, f.start + 1]);
  return { label, bytes, hot, rest, metadata };
}

/** The structure-aware ONNX mutation: metadata_props decoded, one entry's value mutated (as JSON when it is JSON), dropped, duplicated or renamed, re-encoded after the other fields. */
function mutatedMetadata(seeds: OnnxSeed[]): fc.Arbitrary<{ seed: string; bytes: Uint8Array }> {
  return fc.record({ seed: fc.nat({ max: seeds.length - 1 }), entry: fc.nat(), json: jsonPlan(1), action: fc.constantFrom('value', 'value', 'value', 'drop', 'duplicate', 'rename', 'first') }).map((p) => {
    const s = seeds[p.seed];
    const entries = s.metadata.map(([k, v]) => [k, v] as [string, string]);
    if (entries.length > 0) {
      const i = p.entry % entries.length;
      const [key, value] = entries[i];
      if (p.action === 'value') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = undefined;
        }
        entries[i] = [key, parsed === undefined ? applyTextOps(value, p.json.text.length ? p.json.text : [{ op: 'truncate', at: p.entry }]) : mutateJsonText(parsed, p.json.ops, p.json.text)];
      } else if (p.action === 'drop') entries.splice(i, 1);
      else if (p.action === 'duplicate') entries.push([key, p.entry % 2 ? value : '']);
      else if (p.action === 'rename') entries[i] = [`${key}x`, value];
    }
    const meta = entries.map(([k, v]) => metadataEntry(k, v));
    const parts = p.action === 'first' ? [...meta, s.rest] : [s.rest, ...meta];
    const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) {
      out.set(x, at);
      at += x.length;
    }
    return { seed: s.label, bytes: out };
  });
}

const onnxMetadata: FuzzTarget<OnnxSeed, { seed: string; bytes: Uint8Array }> = {
  name: 'onnx-metadata',
  what: 'ONNX model metadata (core/inference/onnx-metadata.ts readOnnxMetadata, then core/inference/model-contract.ts parseModelInfo, as Detector.info() reads a model): the 4 zoo models; byte mutations steered to top-level protobuf tags and lengths, and metadata entries decoded, mutated (JSON values as trees) and re-encoded',
  isolation: 'worker',
  testCount: 300,
  longCount: 10_000,
  seeds: async () => files(ZOO, /^[a-z-]+$/).flatMap((d) => files(d, /\.onnx$/)).map((f) => onnxSeed(f.slice(ZOO.length + 1), read(f), 0)),
  mutate: (s) => fc.oneof(mutatedBytes(s), mutatedMetadata(s)),
  run: async (input) => {
    const { bytesSource, readOnnxMetadata } = await import('../../core/inference/onnx-metadata.ts');
    const { parseModelInfo } = await import('../../core/inference/model-contract.ts');
    return parseModelInfo(await readOnnxMetadata(bytesSource(input.bytes), `${INPUT_NAME}.onnx`), `${INPUT_NAME}.onnx`);
  },
};

interface BackboneSeed extends ByteSeed {
  targets: Pick<ParamSpec, 'name' | 'shape'>[];
}

async function smallBackbone(): Promise<{ targets: ParamSpec[]; bytes: Uint8Array; half: Uint8Array }> {
  const { defaultRotatedRcnnConfig } = await import('../../model/detection/config.ts');
  const { backboneSpec } = await import('../../model/detection/specs.ts');
  const { paramsOf } = await import('../../model/net/spec.ts');
  const { buildSpecModel } = await import('../../export/net/spec-model.ts');
  const { storeWeightsAsFloat16 } = await import('../../onnx/fp16.ts');
  const { encodeModel } = await import('../../onnx/index.ts');
  const config: RotatedRcnnConfig = { ...defaultRotatedRcnnConfig(['rod']), backbone: { widths: [8, 8, 16, 16], blocks: [1, 1, 1, 1], norm: 'gn' } };
  const spec = backboneSpec(config);
  const params = paramsOf(spec);
  const weights = new Map(params.map((p, k) => [p.name, Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + k) * 0.2)]));
  const model = buildSpecModel(spec, weights);
  const { initializers, nodes } = storeWeightsAsFloat16(model.graph?.initializer ?? [], model.graph?.node ?? []);
  const half = encodeModel({ ...model, graph: { ...model.graph, initializer: initializers, node: nodes } });
  // Plain Uint8Array copies: encodeModel returns a Buffer, whose slice() and subarray() are views.
  return { targets: params.filter((p) => p.name.startsWith('backbone.')), bytes: new Uint8Array(encodeModel(model)), half: new Uint8Array(half) };
}

type OnnxNamespace = typeof onnxNamespace;
let onnxProto: OnnxNamespace | null = null;

type TensorOp =
  | { op: 'dims-set'; at: number; value: number }
  | { op: 'dims-push' | 'dims-pop' | 'raw-to-floats' | 'rename' | 'duplicate' | 'drop-nodes' | 'empty-raw'; at: number }
  | { op: 'dtype'; value: number }
  | { op: 'raw-length'; length: number }
  | { op: 'cast-to'; value: number };

const tensorOp: fc.Arbitrary<TensorOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('dims-set' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 7, 64, -1, -(2 ** 31), 2 ** 31, 2 ** 32, 1e6, 2 ** 53) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('dims-push' as const, 'dims-pop' as const, 'raw-to-floats' as const, 'rename' as const, 'duplicate' as const, 'drop-nodes' as const, 'empty-raw' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dtype' as const), value: fc.integer({ min: 0, max: 24 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('raw-length' as const), length: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 1 << 16 })) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cast-to' as const), value: fc.integer({ min: 0, max: 20 }) }) },
);

/**
 * The structure-aware ONNX mutation for backbone files: the model decoded (onnx-proto), one
 * initializer edited (dims, data type, raw_data length, typed fields instead of raw_data, name
 * clashes, duplicates), or the graph's Cast nodes edited, then re-encoded. Small seeds only (the
 * zoo model takes the byte mutations).
 */
function mutatedTensors(seeds: BackboneSeed[]): fc.Arbitrary<{ seed: string; bytes: Uint8Array }> {
  const small = seeds.filter((s) => s.bytes.length < 1 << 20);
  return fc.record({ seed: fc.nat({ max: small.length - 1 }), tensor: fc.nat(), ops: fc.array(tensorOp, { minLength: 1, maxLength: 3 }) }).map((p) => {
    const s = small[p.seed];
    const onnx = onnxProto as OnnxNamespace;
    const model = onnx.ModelProto.decode(s.bytes);
    const graph = model.graph as InstanceType<OnnxNamespace['GraphProto']>;
    const inits = graph.initializer;
    if (inits.length === 0) return { seed: s.label, bytes: s.bytes };
    const t = inits[p.tensor % inits.length];
    for (const o of p.ops) {
      const dims = (t.dims ?? []).map(Number);
      switch (o.op) {
        case 'dims-set': if (dims.length) { dims[o.at % dims.length] = o.value; t.dims = dims; } break;
        case 'dims-push': t.dims = [...dims, 1 + (o.at % 4)]; break;
        case 'dims-pop': t.dims = dims.slice(0, -1); break;
        case 'dtype': t.dataType = o.value; break;
        case 'raw-length': {
          const raw = new Uint8Array(o.length);
          raw.set((t.rawData ?? new Uint8Array(0)).subarray(0, o.length));
          t.rawData = raw;
          break;
        }
        case 'raw-to-floats': t.floatData = Array.from({ length: (o.at % 5) + dims.reduce((a, b) => a * Math.max(0, b), 1) % 1000 }, (_, i) => i / 10); t.rawData = new Uint8Array(0); break;
        case 'empty-raw': t.rawData = new Uint8Array(0); break;
        case 'rename': t.name = inits[o.at % inits.length].name; break;
        case 'duplicate': inits.push(onnx.TensorProto.decode(onnx.TensorProto.encode(t).finish())); break;
        case 'drop-nodes': graph.node = graph.node.filter((_, i) => i % 2 === o.at % 2); break;
        case 'cast-to': for (const n of graph.node) if (n.opType === 'Cast') for (const a of n.attribute ?? []) if (a.name === 'to') a.i = o.value; break;
      }
    }
    return { seed: s.label, bytes: onnx.ModelProto.encode(model).finish() };
  });
}

const initBackbone: FuzzTarget<BackboneSeed, { seed: string; bytes: Uint8Array }> = {
  name: 'init-backbone',
  what: '`emseg train --init-backbone` files (training/init-from-onnx.ts mapBackboneFromOnnx: onnx/ protobuf decoding, float32 and float16 initializers, by-name and by-shape matching): a small emseg backbone export in float32 and float16, and the nanorod zoo model; byte mutations steered to protobuf tags and lengths 4 levels deep, and decoded-model edits (initializer dims, data types, raw_data lengths, typed fields, name clashes, Cast targets) re-encoded',
  isolation: 'worker',
  testCount: 300,
  longCount: 10_000,
  async seeds() {
    const small = await smallBackbone();
    const { defaultRotatedRcnnConfig } = await import('../../model/detection/config.ts');
    const { backboneSpec } = await import('../../model/detection/specs.ts');
    const { paramsOf } = await import('../../model/net/spec.ts');
    const zooTargets = paramsOf(backboneSpec(defaultRotatedRcnnConfig(['nanorod']))).filter((p) => p.name.startsWith('backbone.'));
    const zoo = read(join(ZOO, 'nanorod', 'nanorod.onnx'));
    onnxProto = (await import('../../onnx/proto.ts')).onnx;
    return [
      { label: 'gen/backbone-fp32.onnx', bytes: small.bytes, hot: protobufHotspots(small.bytes, 4), targets: small.targets },
      { label: 'gen/backbone-fp16.onnx', bytes: small.half, hot: protobufHotspots(small.half, 4), targets: small.targets },
      { label: 'gen/backbone-fp32.onnx (2)', bytes: small.bytes, hot: protobufHotspots(small.bytes, 4), targets: small.targets },
      { label: 'model-zoo/nanorod/nanorod.onnx', bytes: zoo, hot: protobufHotspots(zoo, 3, 20_000), targets: zooTargets },
    ];
  },
  mutate: (s) => fc.oneof(mutatedBytes(s), mutatedTensors(s)),
  run: async (input) => {
    const s = BACKBONE_TARGETS.get(input.seed);
    if (!s) throw new Error(`no backbone for ${input.seed}`);
    const init = (await import('../../training/init-from-onnx.ts')).mapBackboneFromOnnx(input.bytes, `${INPUT_NAME}.onnx`, s);
    return init.values.size;
  },
};
const BACKBONE_TARGETS = new Map<string, Pick<ParamSpec, 'name' | 'shape'>[]>();
const backboneSeeds = initBackbone.seeds;
initBackbone.seeds = async () => {
  const list = await backboneSeeds();
  for (const s of list) BACKBONE_TARGETS.set(s.label, s.targets);
  return list;
};

/** A 64 x 48 test image for the detector target. */
const DETECTOR_IMAGE = { data: Float32Array.from({ length: 64 * 48 }, (_, i) => ((i * 7919) % 251) / 251), width: 64, height: 48 };

const detector: FuzzTarget<ByteSeed, { seed: string; bytes: Uint8Array }> = {
  name: 'detector',
  what: 'Whole models through the Node SDK in a child process (sdk-node/detector.ts: new Detector(file), info(), the ONNX Runtime session, run() on a 64 x 48 image): the particle (Mask R-CNN) and nanorod-tem (rotated) zoo models, mutations steered to protobuf tags and lengths 3 levels deep',
  isolation: 'child',
  costly: true,
  testCount: 24,
  longCount: 600,
  async seeds() {
    const particle = read(join(ZOO, 'particle', 'particle.onnx'));
    const rods = read(join(ZOO, 'nanorod-tem', 'nanorod-tem.onnx'));
    const p = { label: 'model-zoo/particle/particle.onnx', bytes: particle, hot: protobufHotspots(particle, 3, 20_000) };
    // particle is three times as fast to load as nanorod-tem: listed three times.
    return [p, p, p, { label: 'model-zoo/nanorod-tem/nanorod-tem.onnx', bytes: rods, hot: protobufHotspots(rods, 3, 20_000) }];
  },
  mutate: (s) => mutatedBytes(s),
  async run(input, ctx) {
    const { Detector } = await import('../../sdk-node/detector.ts');
    const path = join(ctx.dir, `${INPUT_NAME}.onnx`);
    writeFileSync(path, input.bytes);
    const d = new Detector(path, { executionProviders: ['cpu'], threads: 1, log: () => {} });
    try {
      await d.info();
      await d.provider();
      const result = await d.run(DETECTOR_IMAGE);
      return result.instances.length;
    } finally {
      await d.dispose();
    }
  },
};

export const TARGETS: readonly AnyTarget[] = [dm, mrc, ser, tiff, emd, raster, cocoDataset, cocoResults, labelbox, voc, checkpoint, onnxMetadata, initBackbone, detector];

export function targetByName(name: string): AnyTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
