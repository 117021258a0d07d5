import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmsegError, invalidArgument } from '../core/errors.ts';
import { DEFAULT_NORMALIZATION } from '../core/preprocess/normalize.ts';
import { DEFAULT_INPUT_DIVISOR, METADATA_KEYS, MODEL_INPUTS, MODEL_OUTPUTS } from '../core/inference/model-contract.ts';
import { RotatedRoiCoder } from '../model/detection/box-coder.ts';
import type { RotatedRcnnConfig } from '../model/detection/config.ts';
import type { MaskRcnnConfig } from '../model/detection/mask-config.ts';
import { FPN_LEVELS, FPN_STRIDES } from '../model/detection/specs.ts';
import { type DetectorCheckpoint, type DetectorNetworks, readDetectorCheckpoint } from './detection/checkpoint.ts';
import { column, rowCount } from './detection/graph-helpers.ts';
import { emitBoxDecode, emitClassMasks, emitMaskDetections } from './detection/mask-postprocess.ts';
import { emitDetections, emitEnclosingBoxes, emitRotatedDecode, emitRotatedFromBoxes, emitRotatedRoiDecode, fixedRows } from './detection/postprocess.ts';
import { emitMultiLevelRoiAlign } from './detection/roi.ts';
import { emitMultiLevelRotatedRoiAlign } from './detection/rotated-roi.ts';
import { emitRpnProposals } from './detection/rpn.ts';
import { storeWeightsAsFloat16 } from '../onnx/fp16.ts';
import { type ModelSummary, summarizeModel } from './model-summary.ts';
import { emitSpec } from './net/index.ts';
import {
  ONNX_OPSET,
  OpBuilder,
  attr,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  renameInputs,
  tensorValueInfo,
  type ModelProto,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx/index.ts';
import { boxNmsFunction } from './ops/box-nms.ts';
import { rotatedNmsFunction } from './ops/rotated-nms.ts';

/**
 * The rotated Faster R-CNN (training/detection/rotated-rcnn.ts) as one self-contained ONNX model:
 * standard opset-17 ops plus the model-local function com.emseg::RotatedNMS. The contract (inputs,
 * outputs, padding, normalisation, metadata) is docs/model-format.md.
 *
 * Graph: the backbone spec (ResNet + FPN + RPN head) runs on the whole batch [N, 1, H, W]; a Loop
 * over the N images then runs, per image, the proposal stage (rpn.ts), multi-level RoIAlign
 * (roi.ts), the box head spec, Softmax, oriented-box decoding and per-class RotatedNMS
 * (postprocess.ts); its scan outputs are the padded per-image detections.
 */
export interface DetectorOptions {
  /** Detections kept per image (the outputs' K); default config.test.detectionsPerImage. */
  maxDetections?: number;
  /** Class score threshold (scores > this are kept); default config.test.scoreThreshold. */
  scoreThreshold?: number;
  /** IoU threshold of the per-class rotated NMS; default config.test.nmsThreshold. */
  nmsThreshold?: number;
  /**
   * Extra box-head passes on the boxes enclosing the decoded rotated boxes (rotated detector only);
   * default config.test.refine (0 when unset).
   */
  refine?: number;
  /** Store weights as float16 (Cast to float32 at use): about half the file size. */
  fp16?: boolean;
  /** Standard opset; only 17 is written. */
  opset?: number;
  /** Metadata `emseg.training_data_licence` (default "unknown"). */
  licence?: string;
  /** Metadata `emseg.pixel_size_nm` (default: the checkpoint's, else null). */
  pixelSizeNm?: number | null;
  /**
   * Extra outputs for parity tests: per image the proposals fed to the box head and their class
   * head outputs, zero-padded to rpn.postNmsTopKTest rows (`debug_proposals` [N, P, 4],
   * `debug_proposal_logits` [N, P], `debug_class_probs` [N, P, K + 1], `debug_box_deltas` [N, P, 6],
   * `debug_proposal_count` [N]).
   */
  debugOutputs?: boolean;
}

/** The model contract's names (core/inference/model-contract.ts, docs/model-format.md). */
export const DETECTOR_INPUTS = [MODEL_INPUTS.image, MODEL_INPUTS.imageSize] as const;
export const DETECTOR_OUTPUTS = MODEL_OUTPUTS['rotated-detection'];
export const MASK_DETECTOR_OUTPUTS = MODEL_OUTPUTS['instance-segmentation'];
const DEBUG_OUTPUTS = ['debug_proposals', 'debug_proposal_logits', 'debug_class_probs', 'debug_box_deltas', 'debug_proposal_count'] as const;

/** Inputs of the graph builder: a checked config, its networks and their weights. */
export interface DetectorSource extends DetectorNetworks {
  /** Checkpoint metrics (manifest.metrics), stored as metadata. */
  metrics?: unknown;
  pixelSizeNm?: number | null;
}

interface Resolved {
  maxDetections: number;
  scoreThreshold: number;
  nmsThreshold: number;
  /** Extra box-head passes on refined boxes (rotated detector; config.test.refine). */
  refine: number;
}

function resolveOptions(config: RotatedRcnnConfig | MaskRcnnConfig, o: DetectorOptions): Resolved {
  const opset = o.opset ?? ONNX_OPSET;
  if (opset !== ONNX_OPSET) throw invalidArgument('opset', `${ONNX_OPSET} (the only opset emseg writes)`, opset);
  const maxDetections = o.maxDetections ?? config.test.detectionsPerImage;
  if (!Number.isInteger(maxDetections) || maxDetections < 1) throw invalidArgument('max detections', 'a positive integer', maxDetections);
  const scoreThreshold = o.scoreThreshold ?? config.test.scoreThreshold;
  if (!(scoreThreshold >= 0 && scoreThreshold <= 1)) throw invalidArgument('score threshold', 'a number in [0, 1]', scoreThreshold);
  const nmsThreshold = o.nmsThreshold ?? config.test.nmsThreshold;
  if (!(nmsThreshold >= 0 && nmsThreshold <= 1)) throw invalidArgument('NMS IoU threshold', 'a number in [0, 1]', nmsThreshold);
  const refine = o.refine ?? config.test.refine ?? 0;
  if (!Number.isInteger(refine) || refine < 0 || refine > 5) throw invalidArgument('box refinement passes', 'an integer from 0 to 5', refine);
  if (refine > 0 && config.task !== 'rotated-detection') throw invalidArgument('box refinement passes', '0 for an instance-segmentation model (refinement is for rotated boxes)', refine);
  return { maxDetections, scoreThreshold, nmsThreshold, refine };
}

/** emseg's version (package.json next to the source or the build). */
export function emsegVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'emseg' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one folder up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** The model's metadata_props (docs/model-format.md). */
export function detectorMetadata(source: DetectorSource, o: DetectorOptions, r: Resolved): Record<string, string> {
  const c = source.config;
  const pixelSize = o.pixelSizeNm !== undefined ? o.pixelSizeNm : (source.pixelSizeNm ?? null);
  return {
    [METADATA_KEYS.task]: c.task,
    [METADATA_KEYS.classes]: JSON.stringify(c.classes),
    [METADATA_KEYS.normalization]: JSON.stringify(DEFAULT_NORMALIZATION),
    [METADATA_KEYS.pixelSizeNm]: JSON.stringify(pixelSize),
    [METADATA_KEYS.version]: emsegVersion(),
    [METADATA_KEYS.metrics]: JSON.stringify(source.metrics ?? null),
    [METADATA_KEYS.licence]: o.licence ?? 'unknown',
    [METADATA_KEYS.inputDivisor]: String(DEFAULT_INPUT_DIVISOR),
    ...(c.task === 'instance-segmentation' ? { [METADATA_KEYS.maskResolution]: String(c.mask.resolution) } : {}),
    [METADATA_KEYS.inference]: JSON.stringify({
      scoreThreshold: r.scoreThreshold,
      nmsThreshold: r.nmsThreshold,
      maxDetections: r.maxDetections,
      boxRefinements: r.refine,
      rpn: { preNmsTopK: c.rpn.preNmsTopKTest, postNmsTopK: c.rpn.postNmsTopKTest, nmsThreshold: c.rpn.nmsThreshold },
    }),
  };
}

/** Build the ONNX model (no I/O). */
export function buildDetector(source: DetectorSource, options: DetectorOptions = {}): ModelProto {
  const config = source.config;
  const r = resolveOptions(config, options);
  const K = config.classes.length;
  const P = config.rpn.postNmsTopKTest;
  const ops = new OpBuilder('');
  const initializers: TensorProto[] = [];

  // Backbone on the batch.
  const net = emitSpec({ ops, initializers }, source.backbone, source.weights, { image: 'image' });
  const batch = rowCount(ops, 'image');
  const imageShape = ops.shape('image');
  const paddedHeight = ops.gather(imageShape, ops.scalar('int64', 2), 0);
  const paddedWidth = ops.gather(imageShape, ops.scalar('int64', 3), 0);

  // Per image: everything after the backbone.
  const body = ops.child('img');
  const iter = body.fresh('iter');
  const condIn = body.fresh('cond_in');
  const from = body.unsqueeze(iter, [0]);
  const to = body.add(from, body.int64s([1], 'one'));
  const ofImage = (v: string): string => body.slice(v, 0, from, to);
  const features = FPN_LEVELS.map((l) => ofImage(net[l]));
  const levels = FPN_LEVELS.map((_, i) => ({ objectness: ofImage(net[`rpn.objectness.l${i}`]), deltas: ofImage(net[`rpn.deltas.l${i}`]) }));
  const size = body.gather('image_size', iter, 0);
  const given = (axis: number, padded: string): string => {
    const v = body.gather(size, body.scalar('int64', axis), 0);
    return body.cast(body.where(body.greater(v, body.scalar('int64', 0)), v, padded), 'float32');
  };
  const validHeight = given(0, paddedHeight);
  const validWidth = given(1, paddedWidth);
  const proposals = emitRpnProposals(body, levels, body.cast(paddedWidth, 'float32'), body.cast(paddedHeight, 'float32'), {
    strides: FPN_STRIDES,
    anchorSizes: config.anchorSizes,
    anchorRatios: config.anchorRatios,
    preNmsTopK: config.rpn.preNmsTopKTest,
    postNmsTopK: config.rpn.postNmsTopKTest,
    nmsThreshold: config.rpn.nmsThreshold,
  });
  const pooled = emitMultiLevelRoiAlign(body, features, proposals.boxes, { strides: FPN_STRIDES, poolSize: config.roi.poolSize, samplingRatio: config.roi.samplingRatio });
  // Head initializers are emitted through the Loop body's builder: give them their plain names.
  const headStart = initializers.length;
  const plainNames = (): void => {
    const rename = new Map<string, string>();
    for (const t of initializers.slice(headStart)) {
      if (!(t.name ?? '').startsWith(body.prefix)) continue;
      const plain = (t.name ?? '').slice(body.prefix.length);
      rename.set(t.name ?? '', plain);
      t.name = plain;
    }
    renameInputs(body.nodes, rename);
  };
  const headSizes = { inputSizes: { roi_features: config.roi.poolSize } };
  const head = emitSpec({ ops: body, initializers }, source.head, source.weights, { roi_features: pooled }, headSizes);
  const flat = (v: string): string => body.op('Flatten', [v], [attr.int('axis', 1)]);
  const probs = body.op('Softmax', [flat(head['roi_heads.cls_score'])], [attr.int('axis', 1)], 'class_probs');
  const post = { classes: K, ...r };
  let scan: [string, 'float32' | 'int64', (number | null)[]][];
  let boxDeltas: string;
  if (config.task === 'instance-segmentation') {
    if (!source.maskHead) throw invalidArgument('mask head', 'the mask head network of an instance-segmentation model', 'none');
    const M = config.mask.resolution;
    boxDeltas = flat(head['roi_heads.bbox_pred']);
    const boxes = emitBoxDecode(body, proposals.boxes, boxDeltas, validWidth, validHeight);
    const det = emitMaskDetections(body, probs, boxes, post);
    const maskPooled = emitMultiLevelRoiAlign(body, features, det.kept, { strides: FPN_STRIDES, poolSize: config.mask.poolSize, samplingRatio: config.roi.samplingRatio });
    const maskOut = emitSpec({ ops: body, initializers }, source.maskHead, source.weights, { mask_features: maskPooled });
    const masks = emitClassMasks(body, maskOut['roi_heads.mask_predictor'], det.keptLabels, det.n, K, M, r.maxDetections);
    scan = [
      [det.boxes, 'float32', [r.maxDetections, 4]],
      [det.scores, 'float32', [r.maxDetections]],
      [det.labels, 'int64', [r.maxDetections]],
      [masks, 'float32', [r.maxDetections, M, M]],
      [det.count, 'int64', []],
    ];
  } else {
    boxDeltas = flat(head['roi_heads.rbox_pred']);
    let rboxes = emitRotatedDecode(body, proposals.boxes, boxDeltas);
    let finalProbs = probs;
    let rois = proposals.boxes;
    const stage = config.rotatedStage;
    for (let pass = 0; pass < (stage ? 0 : r.refine); pass++) {
      // As RotatedRcnn.predict: re-pool at the enclosing box of each decoded rbox (the previous box
      // where the decoding is degenerate), apply the same head again, decode from the new boxes.
      const w = column(body, rboxes, 2);
      const h = column(body, rboxes, 3);
      const ok = body.unsqueeze(body.and(body.greater(w, body.scalar('float32', 0)), body.greater(h, body.scalar('float32', 0))), [1]);
      rois = body.where(ok, emitEnclosingBoxes(body, rboxes), rois);
      const again = emitSpec({ ops: body, initializers }, source.head, source.weights, {
        roi_features: emitMultiLevelRoiAlign(body, features, rois, { strides: FPN_STRIDES, poolSize: config.roi.poolSize, samplingRatio: config.roi.samplingRatio }),
      }, { ...headSizes, reuseInitializers: true });
      finalProbs = body.op('Softmax', [flat(again['roi_heads.cls_score'])], [attr.int('axis', 1)], 'class_probs');
      rboxes = emitRotatedDecode(body, rois, flat(again['roi_heads.rbox_pred']));
    }
    if (stage) {
      // As RotatedRcnn.predict: the second stage pools the first stage's boxes along their own axes
      // (the proposal, angle 0, where the decoding is degenerate), mixes the two stages' class
      // probabilities and decodes rotated deltas; refinement passes repeat this stage.
      if (!source.rotatedHead) throw invalidArgument('rotated second-stage head', 'the roi_heads2 network of a config with rotatedStage', 'none');
      const rotatedHead = source.rotatedHead;
      const weights = new RotatedRoiCoder().weights;
      const valid = (rb: string): string => body.unsqueeze(body.and(body.greater(column(body, rb, 2), body.scalar('float32', 0)), body.greater(column(body, rb, 3), body.scalar('float32', 0))), [1]);
      let rrois = body.where(valid(rboxes), rboxes, emitRotatedFromBoxes(body, proposals.boxes));
      const second = (at: string, reuse: boolean): Record<string, string> => emitSpec({ ops: body, initializers }, rotatedHead, source.weights, {
        rroi_features: emitMultiLevelRotatedRoiAlign(body, features, at, { strides: FPN_STRIDES, poolSize: stage.poolSize, samplingRatio: stage.samplingRatio, extend: stage.extend }),
      }, { reuseInitializers: reuse, inputSizes: { rroi_features: stage.poolSize } });
      let out = second(rrois, false);
      for (let pass = 0; pass < r.refine; pass++) {
        const next = emitRotatedRoiDecode(body, rrois, flat(out['roi_heads2.rbox_pred']), weights);
        rrois = body.where(valid(next), next, rrois);
        out = second(rrois, true);
      }
      const probs2 = body.op('Softmax', [flat(out['roi_heads2.cls_score'])], [attr.int('axis', 1)], 'class_probs2');
      finalProbs = body.add(body.mul(probs, body.scalar('float32', 1 - stage.scoreWeight)), body.mul(probs2, body.scalar('float32', stage.scoreWeight)));
      rboxes = emitRotatedRoiDecode(body, rrois, flat(out['roi_heads2.rbox_pred']), weights);
    }
    const det = emitDetections(body, finalProbs, rboxes, validWidth, validHeight, post);
    scan = [
      [det.rboxes, 'float32', [r.maxDetections, 5]],
      [det.boxes, 'float32', [r.maxDetections, 4]],
      [det.scores, 'float32', [r.maxDetections]],
      [det.labels, 'int64', [r.maxDetections]],
      [det.count, 'int64', []],
    ];
  }
  plainNames();
  const deltaColumns = config.task === 'instance-segmentation' ? 4 : 6;
  if (options.debugOutputs) {
    scan.push(
      [fixedRows(body, proposals.boxes, P, 2), 'float32', [P, 4]],
      [fixedRows(body, proposals.logits, P, 1), 'float32', [P]],
      [fixedRows(body, probs, P, 2), 'float32', [P, K + 1]],
      [fixedRows(body, boxDeltas, P, 2), 'float32', [P, deltaColumns]],
      [rowCount(body, proposals.boxes), 'int64', []],
    );
  }
  const condOut = body.opTo(body.fresh('cond_out'), 'Identity', [condIn]);
  const scanOut = scan.map(([v, type, shape]) => tensorValueInfo(body.opTo(body.fresh('out'), 'Identity', [v]), type, shape));
  const bodyGraph = makeGraph({
    name: 'per_image',
    nodes: body.nodes,
    inputs: [tensorValueInfo(iter, 'int64', []), tensorValueInfo(condIn, 'bool', [])],
    outputs: [tensorValueInfo(condOut, 'bool', []), ...scanOut],
  });
  const masked = config.task === 'instance-segmentation';
  const outputNames = [...(masked ? MASK_DETECTOR_OUTPUTS : DETECTOR_OUTPUTS), ...(options.debugOutputs ? DEBUG_OUTPUTS : [])];
  ops.nodes.push(makeNode('Loop', [batch, ops.constant('bool', [], [1], 'true')], outputNames, {
    name: 'per_image_loop',
    attributes: [attr.graph('body', bodyGraph)],
  }));

  const outputs: ValueInfoProto[] = masked
    ? [
      tensorValueInfo('boxes', 'float32', ['N', r.maxDetections, 4]),
      tensorValueInfo('scores', 'float32', ['N', r.maxDetections]),
      tensorValueInfo('labels', 'int64', ['N', r.maxDetections]),
      tensorValueInfo('masks', 'float32', ['N', r.maxDetections, config.mask.resolution, config.mask.resolution]),
      tensorValueInfo('count', 'int64', ['N']),
    ]
    : [
      tensorValueInfo('rboxes', 'float32', ['N', r.maxDetections, 5]),
      tensorValueInfo('boxes', 'float32', ['N', r.maxDetections, 4]),
      tensorValueInfo('scores', 'float32', ['N', r.maxDetections]),
      tensorValueInfo('labels', 'int64', ['N', r.maxDetections]),
      tensorValueInfo('count', 'int64', ['N']),
    ];
  if (options.debugOutputs) {
    outputs.push(
      tensorValueInfo('debug_proposals', 'float32', ['N', P, 4]),
      tensorValueInfo('debug_proposal_logits', 'float32', ['N', P]),
      tensorValueInfo('debug_class_probs', 'float32', ['N', P, K + 1]),
      tensorValueInfo('debug_box_deltas', 'float32', ['N', P, deltaColumns]),
      tensorValueInfo('debug_proposal_count', 'int64', ['N']),
    );
  }
  let nodes = ops.nodes;
  let weights = initializers;
  if (options.fp16) ({ initializers: weights, nodes } = storeWeightsAsFloat16(initializers, nodes));
  const graph = makeGraph({
    name: masked ? 'emseg_mask_rcnn' : 'emseg_rotated_detector',
    nodes,
    inputs: [tensorValueInfo('image', 'float32', ['N', 1, 'H', 'W']), tensorValueInfo('image_size', 'int64', ['N', 2])],
    outputs,
    initializers: weights,
    docString: (masked ? 'emseg Mask R-CNN' : 'emseg rotated Faster R-CNN') + '. image: float32 [N, 1, H, W], percentile-normalised to [0, 1], H and W multiples of 32 (zero padding at the bottom and right); image_size: int64 [N, 2] = (height, width) before padding (<= 0: the padded size). See docs/model-format.md.',
  });
  const model = makeModel({ graph, functions: [masked ? boxNmsFunction() : rotatedNmsFunction()], producerVersion: emsegVersion(), docString: masked ? 'emseg Mask R-CNN' : 'emseg rotated detector' });
  model.metadataProps = Object.entries(detectorMetadata(source, options, r)).map(([key, value]) => ({ key, value }));
  return model;
}

export interface ExportResult {
  summary: ModelSummary;
  /** Parameters (weights) in the model. */
  parameters: number;
  /** float32 bytes of those parameters. */
  weightBytes: number;
  fileBytes: number;
  seconds: number;
}

/** Build from a checked checkpoint (see readDetectorCheckpoint). */
export function buildFromCheckpoint(ck: DetectorCheckpoint, options: DetectorOptions = {}): ModelProto {
  const manifest = ck.manifest as typeof ck.manifest & { pixelSizeNm?: unknown };
  return buildDetector({
    config: ck.config,
    backbone: ck.backbone,
    head: ck.head,
    ...(ck.maskHead ? { maskHead: ck.maskHead } : {}),
    ...(ck.rotatedHead ? { rotatedHead: ck.rotatedHead } : {}),
    weights: ck.weights,
    metrics: manifest.metrics,
    pixelSizeNm: typeof manifest.pixelSizeNm === 'number' ? manifest.pixelSizeNm : null,
  }, options);
}

/** Atomic: a temporary file beside the target, then a rename, so a kill never leaves a truncated model. */
export function writeModelFile(outPath: string, bytes: Uint8Array): void {
  const tmp = `${outPath}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, outPath);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new EmsegError('EMSEG_FILE_WRITE', `${outPath}: cannot write the model (${(e as Error).message})`, { file: outPath, cause: e });
  }
}

/** Checkpoint folder -> ONNX file. Throws EmsegError for unusable checkpoints or options. */
export async function exportDetector(checkpointDir: string, outPath: string, options: DetectorOptions = {}): Promise<ExportResult> {
  const start = performance.now();
  const ck = await readDetectorCheckpoint(checkpointDir);
  const model = buildFromCheckpoint(ck, options);
  writeModelFile(outPath, encodeModel(model));
  return {
    summary: summarizeModel(model),
    parameters: ck.paramCount,
    weightBytes: 4 * ck.paramCount,
    fileBytes: statSync(outPath).size,
    seconds: (performance.now() - start) / 1000,
  };
}
