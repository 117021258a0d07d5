import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { OpBuilder, attr, encodeModel, makeGraph, makeModel, tensorValueInfo } from '../../onnx/index.ts';
import { isFullyConnected } from './conv-gradients.ts';
import { type HostTensor, SyncSession, syncRuntimeVersion } from './onnxruntime-sync.ts';

/**
 * Convolutions of the wasm backend (forward, input gradient, filter gradient) run by onnxruntime's
 * CPU kernels (MLAS: AVX2/AVX-512 FMA GEMMs) through onnxruntime-node, which emseg already depends on
 * for sdk-node. XNNPACK in wasm has 128-bit SIMD and no FMA: ~23 GFLOP/s per core here, and the
 * convolutions are most of a training step; MLAS runs the same layers 2-2.5x faster (bench/train).
 * Each kernel is a tiny ONNX graph per layer geometry (strides, pads, kernel size), built with the
 * exporter's ONNX writer and cached; inputs are read from the wasm heap in place and the output is
 * written straight into the tfjs output tensor. Geometries the graphs do not cover (NCHW, dilated
 * gradients, empty tensors) and any runtime failure fall back to the kernels registered before.
 *
 * Graphs (tfjs is NHWC with HWIO filters; ONNX's Conv is NCHW with OIHW filters):
 * - a kernel covering its whole unpadded input (the box head's fc1) or a 1x1 unstrided unpadded one is
 *   a matrix product: one Gemm, no transposes;
 * - forward: with output channels a multiple of MLAS's NCHWc block (16 with AVX-512, 8 with AVX2),
 *   onnxruntime's own blocked-layout convolution (see `nchwcConv`); else Transpose -> Conv -> Transpose;
 * - input gradient: unstrided, a convolution of dy with the filter turned by 180 degrees (NCHWc when
 *   the input channels are a multiple of the block); strided, Transpose -> ConvTranspose -> Transpose;
 * - filter gradient: per tap (i, j) one strided Slice of the padded input, flattened to [pixels, C],
 *   and one Gemm(transA) with dy [pixels, O] giving dW[i, j] = [C, O]: all in NHWC, no transposes.
 *   With fewer than 16 input channels (the stem) one Conv of the input with dy as its filter, images
 *   and channels swapped (else the taps concatenated: one im2col product).
 */

type Conv2DInfo = backend_util.Conv2DInfo;
type Kind = 'forward' | 'input-gradient' | 'filter-gradient';

interface Plan {
  key: string;
  build: (b: OpBuilder) => string;
  /** Shape of the graph's output (the tfjs output's size, laid out the same). */
  outDims: number[];
  /** Runs onnxruntime's NCHWc convolution. */
  nchwc?: boolean;
}

/** The parts of tfjs-backend-wasm 4.x used here: allocate an output, view tensors on the heap. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

let threads = 1;
const sessions = new Map<string, SyncSession>();
/** Geometries whose graph failed once (creation or run): the fallback takes them from then on. */
const broken = new Set<string>();
/**
 * Calls run by onnxruntime (of which through NCHWc) and calls handed to the fallback kernels
 * (benchmarks and tests read it).
 */
const counts = { onnxruntime: 0, nchwc: 0, fallback: 0 };

export function onnxruntimeConvCounts(): Readonly<typeof counts> {
  return { ...counts };
}

/** onnxruntime intra-op threads per process (set before the first convolution runs). */
export function setOnnxruntimeConvThreads(n: number): void {
  const next = Math.max(1, Math.floor(n));
  if (next !== threads) sessions.clear();
  threads = next;
}

export function onnxruntimeConvsAvailable(): boolean {
  return syncRuntimeVersion() !== null;
}

function isPointwise(i: Conv2DInfo): boolean {
  const p = i.padInfo;
  return i.filterHeight === 1 && i.filterWidth === 1 && i.strideHeight === 1 && i.strideWidth === 1 && !p.top && !p.bottom && !p.left && !p.right;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const HWIO_TO_OIHW = [3, 2, 0, 1];
const HWIO_TO_IOHW = [2, 3, 0, 1];
const NHWC_TO_CNHW = [3, 0, 1, 2];
const CO_HW_TO_HWCO = [2, 3, 0, 1];

function convAttrs(i: Conv2DInfo) {
  const p = i.padInfo;
  return [
    attr.ints('kernel_shape', [i.filterHeight, i.filterWidth]),
    attr.ints('strides', [i.strideHeight, i.strideWidth]),
    attr.ints('pads', [p.top, p.left, p.bottom, p.right]),
  ];
}

/**
 * onnxruntime's NCHWc operators (domain com.microsoft.nchwc: ReorderInput, Conv, ReorderOutput), the
 * ones its graph optimiser substitutes for a Conv whose filter is a constant. A training step's filters
 * are inputs, so the optimiser leaves them as plain Conv: MLAS then runs im2col + SGEMM on NCHW data
 * behind two transposes. Written out here, the blocked direct-convolution kernels run instead, reading
 * NHWC directly (ReorderInput's channels_last) and writing NHWC (ReorderOutput's): the ResNet-18-style
 * backbone's forward convolutions went from ~85 to ~50 ms a step (bench:train). The filter is put in
 * the blocked layout in the graph (a Reshape and a Transpose of a few hundred KB).
 */
const NCHWC = 'com.microsoft.nchwc';

let blockSize: number | undefined;

/**
 * MLAS's NCHWc channel block on this CPU (16 with AVX-512, 8 with AVX2), read off the shape
 * ReorderInput gives 4 channels; 0 where the operators are missing or unblocked (the plain graphs run).
 */
export function nchwcBlockSize(): number {
  if (blockSize !== undefined) return blockSize;
  blockSize = 0;
  try {
    const probe = graphSession('nchwc-probe', (b) => b.opN('ReorderInput', ['x'], { domain: NCHWC, attributes: [attr.int('channels_last', 1)] })[0], ['x'], true, 1);
    const block = probe.run({ x: { data: new Float32Array(4), dims: [1, 1, 1, 4] } }).dims[1];
    if (Number.isInteger(block) && block > 1 && (block & (block - 1)) === 0) blockSize = block;
  } catch {
    blockSize = 0; // an onnxruntime without the NCHWc operators: the plain graphs
  }
  return blockSize;
}

/**
 * NHWC x -> NHWC y through NCHWc: `cin` input channels, `cout` output channels (a multiple of the
 * block), `w` an [cout, cin, kh, kw]-shaped filter value ALREADY in MLAS's blocked order
 * (`blockedFilter`). Inputs with fewer channels than the block (the stem) stay unblocked NCHW, as
 * the optimiser does for a first layer.
 */
function nchwcConv(b: OpBuilder, x: string, w: string, cin: number, cout: number, attributes: ReturnType<typeof convAttrs>): string {
  const B = nchwcBlockSize();
  const input = cin % B === 0
    ? b.opN('ReorderInput', [x], { domain: NCHWC, attributes: [attr.int('channels_last', 1)] })[0]
    : b.op('Transpose', [x], [attr.ints('perm', NHWC_TO_NCHW)]);
  const y = b.opN('Conv', [input, w], { domain: NCHWC, attributes })[0];
  return b.opN('ReorderOutput', [y], { domain: NCHWC, attributes: [attr.int('channels', cout), attr.int('channels_last', 1)] })[0];
}

/** True where `nchwcConv` takes these channel counts on this CPU. */
function nchwcFits(cin: number, cout: number): boolean {
  const B = nchwcBlockSize();
  return B > 1 && cout % B === 0 && (cin % B === 0 || cin < B);
}

/**
 * A filter given as [kh, kw, cin, cout] (HWIO; `hwio` names the value) in MLAS's NCHWc order, shaped
 * [cout, cin, kh, kw] as NchwcConv checks: [cout/B][cin/B][kh][kw][cin%B][cout%B] (blocked input) or
 * [cout/B][cin][kh][kw][cout%B] (unblocked input, cin < B).
 */
function blockedFilter(b: OpBuilder, hwio: string, kh: number, kw: number, cin: number, cout: number): string {
  const B = nchwcBlockSize();
  const blocked = cin % B === 0;
  const split = blocked ? [kh, kw, cin / B, B, cout / B, B] : [kh, kw, cin, cout / B, B];
  const perm = blocked ? [4, 2, 0, 1, 3, 5] : [3, 2, 0, 1, 4];
  const reordered = b.op('Transpose', [b.op('Reshape', [hwio, b.constant('int64', [split.length], split)])], [attr.ints('perm', perm)]);
  return b.op('Reshape', [reordered, b.constant('int64', [4], [cout, cin, kh, kw])]);
}

/** `value` with the two spatial `axes` reversed: a filter turned by 180 degrees. */
function reversed(b: OpBuilder, value: string, axes: [number, number]): string {
  const int64 = (v: number[]) => b.constant('int64', [2], v);
  return b.op('Slice', [value, int64([-1, -1]), int64([-(2 ** 62), -(2 ** 62)]), int64(axes), int64([-1, -1])]);
}

function geometryKey(kind: Kind, i: Conv2DInfo, mode: string): string {
  const p = i.padInfo;
  return [kind, mode, i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, i.dilationHeight, i.dilationWidth, p.top, p.bottom, p.left, p.right].join(',');
}

/** How to compute `kind` for this geometry, or null where the fallback kernel must. */
function plan(kind: Kind, i: Conv2DInfo): Plan | null {
  const { batchSize: n, inHeight: ih, inWidth: iw, inChannels: c, outHeight: oh, outWidth: ow, outChannels: o, filterHeight: kh, filterWidth: kw } = i;
  if ([n, ih, iw, c, oh, ow, o].some((d) => d <= 0)) return null;
  const k = kh * kw * c;
  if (isFullyConnected(i) || isPointwise(i)) {
    const fc = isFullyConnected(i);
    const rows = fc ? n : n * oh * ow;
    const axis = fc ? 1 : 3; // Flatten x to [N, kh*kw*C] (FC) or [pixels, C] (1x1)
    const key = geometryKey(kind, i, fc ? 'fc' : '1x1');
    if (kind === 'forward') return { key, outDims: [rows, o], build: (b) => b.op('Gemm', [b.op('Flatten', ['x'], [attr.int('axis', axis)]), b.op('Flatten', ['w'], [attr.int('axis', 3)])]) };
    if (kind === 'input-gradient') return { key, outDims: [rows, fc ? k : c], build: (b) => b.op('Gemm', [b.op('Flatten', ['dy'], [attr.int('axis', axis)]), b.op('Flatten', ['w'], [attr.int('axis', 3)])], [attr.int('transB', 1)]) };
    return { key, outDims: [fc ? k : c, o], build: (b) => b.op('Gemm', [b.op('Flatten', ['x'], [attr.int('axis', axis)]), b.op('Flatten', ['dy'], [attr.int('axis', axis)])], [attr.int('transA', 1)]) };
  }
  if (kind === 'forward' && nchwcFits(c, o)) {
    return {
      key: `${geometryKey(kind, i, 'nchwc')},${c},${o}`,
      nchwc: true,
      outDims: [n, oh, ow, o],
      build: (b) => nchwcConv(b, 'x', blockedFilter(b, 'w', kh, kw, c, o), c, o, [...convAttrs(i), attr.ints('dilations', [i.dilationHeight, i.dilationWidth])]),
    };
  }
  if (kind === 'forward') {
    return {
      key: geometryKey(kind, i, 'conv'),
      outDims: [n, oh, ow, o],
      build: (b) => {
        const x = b.op('Transpose', ['x'], [attr.ints('perm', NHWC_TO_NCHW)]);
        const w = b.op('Transpose', ['w'], [attr.ints('perm', HWIO_TO_OIHW)]);
        const y = b.op('Conv', [x, w], [...convAttrs(i), attr.ints('dilations', [i.dilationHeight, i.dilationWidth])]);
        return b.op('Transpose', [y], [attr.ints('perm', NCHW_TO_NHWC)]);
      },
    };
  }
  if (i.dilationHeight !== 1 || i.dilationWidth !== 1) return null;
  const p = i.padInfo;
  if (kind === 'input-gradient' && i.strideHeight === 1 && i.strideWidth === 1 && nchwcFits(o, c)) {
    // As below, in NCHWc: dy's o channels are the input, dx's c the output; the turned filter
    // [kh, kw, o, c] (spatially reversed, in/out swapped) goes to the blocked order.
    return {
      key: `${geometryKey(kind, i, 'nchwc-flipped')},${c},${o}`,
      nchwc: true,
      outDims: [n, ih, iw, c],
      build: (b) => {
        const turned = b.op('Transpose', [reversed(b, 'w', [0, 1])], [attr.ints('perm', [0, 1, 3, 2])]);
        const pads = [kh - 1 - p.top, kw - 1 - p.left, kh - 1 - p.bottom, kw - 1 - p.right];
        return nchwcConv(b, 'dy', blockedFilter(b, turned, kh, kw, o, c), o, c, [attr.ints('kernel_shape', [kh, kw]), attr.ints('pads', pads)]);
      },
    };
  }
  if (kind === 'input-gradient' && i.strideHeight === 1 && i.strideWidth === 1) {
    // Unstrided: the input gradient is the forward convolution of dy with the filter turned by 180
    // degrees and its in/out channels swapped, padded by k - 1 - pad. MLAS's Conv splits its im2col
    // and product over the threads; ConvTranspose's col2im runs on one (2 threads: 5.7 -> 3 ms for
    // the 3x3, 128², 32->32 layer).
    return {
      key: geometryKey(kind, i, 'flipped-conv'),
      outDims: [n, ih, iw, c],
      build: (b) => {
        const dy = b.op('Transpose', ['dy'], [attr.ints('perm', NHWC_TO_NCHW)]);
        const w = b.op('Transpose', ['w'], [attr.ints('perm', HWIO_TO_IOHW)]); // [C, O, kh, kw]: dy's channels are the inputs now
        const turned = reversed(b, w, [2, 3]);
        const pads = [kh - 1 - p.top, kw - 1 - p.left, kh - 1 - p.bottom, kw - 1 - p.right];
        const dx = b.op('Conv', [dy, turned], [attr.ints('kernel_shape', [kh, kw]), attr.ints('pads', pads)]);
        return b.op('Transpose', [dx], [attr.ints('perm', NCHW_TO_NHWC)]);
      },
    };
  }
  if (kind === 'input-gradient') {
    // ConvTranspose's output is s*(oh-1) + k - pads; output_padding adds the rows the forward
    // convolution's stride skipped at the bottom/right (0 <= extra < stride, as ONNX requires).
    const extraH = ih - (i.strideHeight * (oh - 1) + kh - p.top - p.bottom);
    const extraW = iw - (i.strideWidth * (ow - 1) + kw - p.left - p.right);
    if (extraH < 0 || extraW < 0 || extraH >= i.strideHeight || extraW >= i.strideWidth) return null;
    return {
      key: `${geometryKey(kind, i, 'convT')},${extraH},${extraW}`,
      outDims: [n, ih, iw, c],
      build: (b) => {
        const dy = b.op('Transpose', ['dy'], [attr.ints('perm', NHWC_TO_NCHW)]);
        const w = b.op('Transpose', ['w'], [attr.ints('perm', HWIO_TO_OIHW)]); // [O, C, kh, kw]: ConvTranspose's (in, out) order
        const dx = b.op('ConvTranspose', [dy, w], [...convAttrs(i), attr.ints('output_padding', [extraH, extraW])]);
        return b.op('Transpose', [dx], [attr.ints('perm', NCHW_TO_NHWC)]);
      },
    };
  }
  // Few input channels (the stem): the filter gradient is ONE convolution of the input, images and
  // channels swapped ([C, 1, H, W]), with dy as its filter ([O, 1, oh, ow], dilated by the stride):
  // MLAS splits it over the threads, where per-tap products of C = 1 columns barely use the vector
  // units (stem 7x7/2 of 512²: 13 ms as im2col + one product on 2 threads, 3.7 ms so). The padding
  // rows a strided forward never read are cut from the far side (extra); the pads must stay >= 0.
  const extraH = ih + p.top + p.bottom - (i.strideHeight * (oh - 1) + kh);
  const extraW = iw + p.left + p.right - (i.strideWidth * (ow - 1) + kw);
  if (c < 16 && extraH <= p.bottom && extraW <= p.right) {
    return {
      key: `${geometryKey(kind, i, 'swapped-conv')},${extraH},${extraW}`,
      outDims: [kh, kw, c, o],
      build: (b) => {
        const x = b.op('Transpose', ['x'], [attr.ints('perm', NHWC_TO_CNHW)]);
        const dy = b.op('Transpose', ['dy'], [attr.ints('perm', NHWC_TO_CNHW)]);
        const pads = [p.top, p.left, p.bottom - extraH, p.right - extraW];
        const dw = b.op('Conv', [x, dy], [attr.ints('pads', pads), attr.ints('dilations', [i.strideHeight, i.strideWidth])]);
        return b.op('Transpose', [dw], [attr.ints('perm', CO_HW_TO_HWCO)]); // [C, O, kh, kw] -> HWIO
      },
    };
  }
  // Few input channels where the swapped convolution's pads would go negative: the per-tap products
  // are too thin to run fast; concatenate the taps into the im2col matrix [pixels, kh*kw*C] (HWIO
  // order) and take ONE product instead.
  const im2col = c < 16;
  return {
    key: geometryKey(kind, i, im2col ? 'im2col' : 'taps'),
    outDims: im2col ? [kh * kw * c, o] : [kh * kw, c, o],
    build: (b) => {
      const xp = b.op('Pad', ['x', b.constant('int64', [8], [0, p.top, p.left, 0, 0, p.bottom, p.right, 0])]);
      const dy = b.op('Flatten', ['dy'], [attr.int('axis', 3)]);
      // Last sampled row/column of tap 0: (oh - 1) * stride, read from dy's shape at run time.
      const shape = b.op('Shape', ['dy']);
      const last = b.op('Mul', [b.op('Sub', [b.op('Slice', [shape, b.constant('int64', [1], [1]), b.constant('int64', [1], [3])]), b.constant('int64', [2], [1, 1])]), b.constant('int64', [2], [i.strideHeight, i.strideWidth])]);
      const taps: string[] = [];
      for (let a = 0; a < kh; a++) {
        for (let c2 = 0; c2 < kw; c2++) {
          const starts = b.constant('int64', [2], [a, c2]);
          const ends = b.op('Add', [last, b.constant('int64', [2], [a + 1, c2 + 1])]);
          const window = b.op('Slice', [xp, starts, ends, b.constant('int64', [2], [1, 2]), b.constant('int64', [2], [i.strideHeight, i.strideWidth])]);
          const cols = b.op('Flatten', [window], [attr.int('axis', 3)]);
          taps.push(im2col ? cols : b.op('Unsqueeze', [b.op('Gemm', [cols, dy], [attr.int('transA', 1)]), b.constant('int64', [1], [0])]));
        }
      }
      if (im2col) return b.op('Gemm', [taps.length === 1 ? taps[0] : b.op('Concat', taps, [attr.int('axis', 1)]), dy], [attr.int('transA', 1)]);
      return taps.length === 1 ? taps[0] : b.op('Concat', taps, [attr.int('axis', 0)]);
    },
  };
}

function session(p: Plan, inputs: readonly string[]): SyncSession {
  let s = sessions.get(p.key);
  if (!s) {
    s = graphSession(p.key, p.build, inputs, p.nchwc ?? false, threads);
    sessions.set(p.key, s);
  }
  return s;
}

/** A session of the graph `build` writes: 4-d float32 `inputs`, its result the output `y`. */
function graphSession(name: string, build: (b: OpBuilder) => string, inputs: readonly string[], nchwc: boolean, sessionThreads: number): SyncSession {
  const b = new OpBuilder('');
  b.opTo('y', 'Identity', [build(b)]);
  const graph = makeGraph({
    name,
    nodes: b.nodes,
    inputs: inputs.map((input) => tensorValueInfo(input, 'float32', [null, null, null, null])),
    outputs: [tensorValueInfo('y', 'float32')],
  });
  const opsetImports = [{ domain: '', version: 17 }, ...(nchwc ? [{ domain: NCHWC, version: 1 }] : [])];
  return new SyncSession(encodeModel(makeModel({ graph, opsetImports })), sessionThreads);
}

function info(xShape: number[], filterShape: number[], attrs: NamedAttrMap): Conv2DInfo | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const pad = attrs.pad as backend_util.PadInfo['type'] | number | backend_util.ExplicitPadding;
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as number | [number, number], (attrs.dilations as number | [number, number] | undefined) ?? 1,
    pad as never, attrs.dimRoundingMode as never, false, 'channelsLast',
  );
}

/**
 * Per kind: the graph's two inputs (graph name -> tfjs input name), the shapes the convolution is
 * described by, and which of its shapes the output has.
 */
const KINDS: Record<Kind, {
  feeds: Record<string, string>;
  shapes: (t: Record<string, TensorInfo>, attrs: NamedAttrMap) => [number[], number[]];
  outShape: (i: Conv2DInfo) => readonly number[];
}> = {
  forward: { feeds: { x: 'x', w: 'filter' }, shapes: (t) => [t.x.shape, t.filter.shape], outShape: (i) => i.outShape },
  'input-gradient': { feeds: { dy: 'dy', w: 'filter' }, shapes: (t, a) => [a.inputShape as number[], t.filter.shape], outShape: (i) => i.inShape },
  'filter-gradient': { feeds: { x: 'x', dy: 'dy' }, shapes: (t, a) => [t.x.shape, a.filterShape as number[]], outShape: (i) => i.filterShape },
};

function kernel(kind: Kind, fallback: KernelFunc): KernelFunc {
  const k = KINDS[kind];
  const run: KernelFunc = (args) => {
    const { inputs, attrs = {} } = args;
    const t = inputs as Record<string, TensorInfo>;
    const useFallback = () => {
      counts.fallback++;
      return fallback(args);
    };
    if (Object.values(k.feeds).some((name) => t[name].dtype !== 'float32')) return useFallback();
    const i = info(...k.shapes(t, attrs), attrs);
    const p = i && plan(kind, i);
    if (!i || !p || broken.has(p.key)) return useFallback();
    const heap = args.backend as unknown as WasmHeap;
    const backend = args.backend as KernelBackend;
    // Allocate everything first (the output, and scratch for misaligned operands): growing the heap
    // detaches views taken before.
    const out = heap.makeOutput([...k.outShape(i)], 'float32');
    const operands = Object.entries(k.feeds).map(([name, input]) => ({ name, tensor: t[input], scratch: alignedScratch(heap, t[input]) }));
    const outScratch = alignedScratch(heap, out);
    const feeds: Record<string, HostTensor> = {};
    for (const { name, tensor, scratch } of operands) feeds[name] = { data: scratch ? scratch.copyFrom(tensor) : heap.typedArrayFromHeap(tensor), dims: tensor.shape };
    const scratchList = [...operands.map((o) => o.scratch), outScratch].filter((x) => x !== null);
    try {
      const result = outScratch ? outScratch.view() : heap.typedArrayFromHeap(out);
      session(p, Object.keys(feeds)).runInto(feeds, { data: result, dims: p.outDims });
      if (outScratch) heap.typedArrayFromHeap(out).set(result);
      counts.onnxruntime++;
      if (p.nchwc) counts.nchwc++;
      return out;
    } catch (e) {
      backend.disposeData(out.dataId);
      broken.add(p.key);
      if (p.nchwc) {
        // An onnxruntime whose NCHWc operators fail: the plain graphs from now on.
        process.emitWarning(`emseg: onnxruntime's NCHWc ${kind} convolution failed (${p.key}): ${(e as Error).message}; using plain Conv graphs`);
        blockSize = 0;
        return run(args);
      }
      process.emitWarning(`emseg: onnxruntime ${kind} convolution failed (${p.key}): ${(e as Error).message}; using the wasm kernel for it`);
      return useFallback();
    } finally {
      for (const s of scratchList) backend.disposeData(s.info.dataId);
    }
  };
  return run;
}

/**
 * Byte alignment of every buffer handed to onnxruntime. MLAS's results depend on its operands'
 * alignment (measured: the same Gemm gave different bits for a filter at heap offset 32 and at 40
 * mod 64), and tfjs's wasm allocator aligns to 8 bytes only, so the alignment a tensor gets depends
 * on the allocation history: without this, a training run resumed from a checkpoint drifted from
 * the uninterrupted run within a step. The wasm heap's base is page-aligned, so a heap offset's
 * alignment is the address's.
 */
const ALIGN_BYTES = 64;

/** A heap block for `t`'s values at an ALIGN_BYTES boundary, or null when `t` is aligned already. */
function alignedScratch(heap: WasmHeap, t: TensorInfo) {
  if (heap.typedArrayFromHeap(t).byteOffset % ALIGN_BYTES === 0) return null;
  const size = t.shape.reduce((a, d) => a * d, 1);
  const info = heap.makeOutput([size + ALIGN_BYTES / 4], 'float32');
  const view = (): Float32Array => {
    const block = heap.typedArrayFromHeap(info);
    const skip = ((ALIGN_BYTES - (block.byteOffset % ALIGN_BYTES)) % ALIGN_BYTES) / 4;
    return block.subarray(skip, skip + size);
  };
  return { info, view, copyFrom: (src: TensorInfo): Float32Array => { const v = view(); v.set(heap.typedArrayFromHeap(src)); return v; } };
}

const KERNELS: Record<string, Kind> = { Conv2D: 'forward', Conv2DBackpropInput: 'input-gradient', Conv2DBackpropFilter: 'filter-gradient' };

/**
 * Kernel configs for `backendName` (wasm) wrapping `current`, the kernels registered now, which
 * stay the fallback. Empty when onnxruntime-node's binding is unavailable.
 */
export function onnxruntimeConvKernels(backendName: string, current: (kernelName: string) => KernelFunc | undefined): KernelConfig[] {
  if (!onnxruntimeConvsAvailable()) return [];
  const configs: KernelConfig[] = [];
  for (const [kernelName, kind] of Object.entries(KERNELS)) {
    const fallback = current(kernelName);
    if (fallback) configs.push({ kernelName, backendName, kernelFunc: kernel(kind, fallback) });
  }
  return configs;
}
