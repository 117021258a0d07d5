import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { EmsegError } from '../../core/errors.ts';
import type { RotatedBox } from '../../core/geometry/types.ts';
import { batchedNmsRotated, nmsRotated } from '../../core/nms/nms.ts';
import { EMSEG_DOMAIN, ONNX_OPSET, decodeModel, encodeModel, int64ToNumber } from '../../onnx/index.ts';
import { rotatedNmsModel } from '../../export/ops/rotated-nms-model.ts';
import { ROTATED_NMS_OP } from '../../export/ops/rotated-nms.ts';
import { type RotatedNmsCase, cocoFixture, readJson, seededRandom } from '../helpers/fixtures.ts';
import { pythonOnnxAvailable, requireTool } from '../helpers/tools.ts';

type NmsCase = RotatedNmsCase;

/** One NMS problem as the ONNX op sees it: float32 values, a float32 threshold, an int64 limit. */
interface Problem {
  name: string;
  boxes: RotatedBox[];
  scores: number[];
  threshold: number;
  maxOutput: number;
  /** Class per box (batched NMS); absent: one class. */
  classes?: number[];
}

type Ort = typeof ortNode;
interface Runtime {
  name: string;
  ort: Ort;
  session: ortNode.InferenceSession;
}

const f32 = Math.fround;

/** The op's inputs are float32: round once, so the reference sees exactly what the op sees. */
function toFloat32(p: Problem): Problem {
  const boxes = p.boxes.map(([cx, cy, w, h, a]): RotatedBox => [f32(cx), f32(cy), f32(w), f32(h), f32(a)]);
  return { ...p, boxes, scores: p.scores.map(f32), threshold: f32(p.threshold) };
}

function reference(p: Problem): number[] {
  const keep = p.classes ? batchedNmsRotated(p.boxes, p.scores, p.classes, p.threshold) : nmsRotated(p.boxes, p.scores, p.threshold);
  return keep.slice(0, Math.max(p.maxOutput, 0));
}

async function runOp(rt: Runtime, p: Problem): Promise<number[]> {
  const { Tensor } = rt.ort;
  const n = p.boxes.length;
  const out = await rt.session.run({
    boxes: new Tensor('float32', Float32Array.from(p.boxes.flat()), [n, 5]),
    scores: new Tensor('float32', Float32Array.from(p.scores), [n]),
    iou_threshold: new Tensor('float32', Float32Array.from([p.threshold]), []),
    max_output: new Tensor('int64', BigInt64Array.from([BigInt(p.maxOutput)]), []),
    classes: new Tensor('int64', BigInt64Array.from(p.classes ?? p.boxes.map(() => 0), BigInt), [n]),
  });
  const keep = out.keep;
  assert.equal(keep.type, 'int64');
  assert.equal(keep.dims.length, 1);
  return Array.from(keep.data as BigInt64Array, Number);
}

// ---- random and adversarial problems (seeded) ----

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const THRESHOLDS = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1];

/** Overlapping rods in a few clusters, scores on a coarse grid (many ties). */
function clusteredRods(rand: Rand, i: number): Problem {
  const n = 1 + Math.floor(rand() * 60);
  const centres = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => [rand() * 200, rand() * 200, rand() * 360 - 180]);
  const boxes = Array.from({ length: n }, (): RotatedBox => {
    const [x, y, a] = pick(rand, centres);
    return [x + rand() * 10 - 5, y + rand() * 10 - 5, 10 + rand() * 50, 3 + rand() * 12, a + rand() * 30 - 15];
  });
  const levels = 1 + Math.floor(rand() * 6);
  const scores = boxes.map(() => Math.round(rand() * levels) / levels);
  return { name: `rods ${i}`, boxes, scores, threshold: pick(rand, THRESHOLDS), maxOutput: n };
}

/**
 * The same rectangles written several ways: exact duplicates, angle +-180 and +-360, w/h swapped
 * with angle +-90. IoUs are 1 up to rounding, and clipping decisions fall on nearly collinear edges.
 */
function equivalentBoxes(rand: Rand, i: number): Problem {
  const boxes: RotatedBox[] = [];
  for (let k = 0, m = 1 + Math.floor(rand() * 5); k < m; k++) {
    const base: RotatedBox = [50 + rand() * 100, 50 + rand() * 100, 5 + rand() * 40, 2 + rand() * 20, pick(rand, [0, 90, -90, 180, 45, rand() * 360 - 180])];
    const [cx, cy, w, h, a] = base;
    const variants: RotatedBox[] = [base, [cx, cy, w, h, a], [cx, cy, w, h, a + 180], [cx, cy, w, h, a - 180], [cx, cy, w, h, a + 360],
      [cx, cy, w, h, a - 360], [cx, cy, h, w, a + 90], [cx, cy, h, w, a - 90], [cx, cy, h, w, a + 270]];
    for (const v of variants) if (rand() < 0.6) boxes.push(v);
  }
  const scores = boxes.map(() => pick(rand, [0.5, 0.5, 0.9, rand()]));
  return { name: `equivalent ${i}`, boxes, scores, threshold: pick(rand, [0.5, 0.9, 0.99, 0.999999, 1, 0]), maxOutput: boxes.length };
}

/**
 * Axis-aligned boxes on an integer grid, so many IoUs are exactly 0.25, 0.5 or 1 and equal a
 * float32 threshold: IoU == threshold must not suppress. The same boxes also appear rotated by 90 or
 * 180 degrees with w/h swapped, where the IoU is the threshold only up to rounding and the
 * reference's rounding decides.
 */
function exactThresholds(rand: Rand, i: number): Problem {
  const n = 2 + Math.floor(rand() * 12);
  const boxes = Array.from({ length: n }, (): RotatedBox => {
    const w = pick(rand, [2, 3, 4, 5]);
    const h = pick(rand, [1, 2]);
    const cx = Math.floor(rand() * 6);
    const cy = Math.floor(rand() * 3);
    const turn = rand();
    if (turn < 0.5) return [cx, cy, w, h, 0];
    if (turn < 0.75) return [cx, cy, h, w, pick(rand, [90, -90, 270])];
    return [cx, cy, w, h, pick(rand, [180, -180, 360])];
  });
  const scores = boxes.map(() => pick(rand, [0.25, 0.5, 0.75]));
  return { name: `exact ${i}`, boxes, scores, threshold: pick(rand, [0.25, 0.5, 1 / 3, 0.6, 0.2, 0]), maxOutput: n };
}

/** Zero and negative sizes, tiny boxes, far-away coordinates, extreme angles. */
function degenerate(rand: Rand, i: number): Problem {
  const n = 1 + Math.floor(rand() * 25);
  const origin = pick(rand, [0, 1000, 5000, -3000]);
  const boxes = Array.from({ length: n }, (): RotatedBox => {
    const kind = rand();
    const cx = origin + rand() * 20;
    const cy = origin + rand() * 20;
    if (kind < 0.2) return [cx, cy, pick(rand, [0, -2, 3]), pick(rand, [0, 4, -1]), rand() * 90];
    if (kind < 0.4) return [cx, cy, 1e-3 + rand() * 1e-2, 1e-3 + rand() * 1e-2, rand() * 360];
    if (kind < 0.6) return [cx, cy, 5 + rand() * 10, 5 + rand() * 10, pick(rand, [720, -1080, 3600.5, -45.25])];
    return [cx, cy, 2 + rand() * 15, 1 + rand() * 15, rand() * 720 - 360];
  });
  const scores = boxes.map(() => rand());
  return { name: `degenerate ${i}`, boxes, scores, threshold: pick(rand, THRESHOLDS), maxOutput: n };
}

/** All suppressed, none suppressed, N = 0 and 1, and max_output below, at and above the kept count. */
function extremes(rand: Rand, i: number): Problem {
  const kind = i % 6;
  const n = kind === 2 ? 0 : kind === 3 ? 1 : 2 + Math.floor(rand() * 30);
  const same: RotatedBox = [40, 40, 20, 8, rand() * 360];
  const boxes = Array.from({ length: n }, (_, k): RotatedBox =>
    kind === 0 ? [...same] // all identical: everything after the first is suppressed (threshold < 1)
    : kind === 1 ? [k * 100, 0, 20, 8, rand() * 360] // far apart: nothing suppressed
    : [rand() * 60, rand() * 60, 10 + rand() * 20, 3 + rand() * 8, rand() * 360]);
  const scores = boxes.map(() => (kind === 0 ? 0.5 : rand()));
  const maxOutput = kind === 4 ? pick(rand, [0, 1, 2, 3]) : kind === 5 ? pick(rand, [-1, -100]) : n + pick(rand, [0, 5]);
  const threshold = kind === 0 ? pick(rand, [0, 0.5, 0.99]) : pick(rand, THRESHOLDS);
  return { name: `extreme ${i}`, boxes, scores, threshold, maxOutput };
}

function randomProblems(): Problem[] {
  const rand = seededRandom(20240611);
  const problems: Problem[] = [];
  const generators = [clusteredRods, equivalentBoxes, exactThresholds, degenerate, extremes];
  for (const generate of generators) for (let i = 0; i < 48; i++) problems.push(toFloat32(generate(rand, i)));
  // Batched (a detector's per-class NMS in one call): the same problems with 2 or 3 classes.
  for (const generate of generators) {
    for (let i = 0; i < 8; i++) {
      const p = toFloat32(generate(rand, i));
      const classCount = 2 + (i % 2);
      problems.push({ ...p, name: `${p.name}, ${classCount} classes`, classes: p.boxes.map(() => Math.floor(rand() * classCount)) });
    }
  }
  return problems;
}

// ---- tests ----

const modelBytes = encodeModel(rotatedNmsModel());
const runtimes: Runtime[] = [];
let workDir = '';

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'emseg-rotated-nms-'));
  ortWeb.env.wasm.numThreads = 1;
  runtimes.push(
    { name: 'onnxruntime-node cpu', ort: ortNode, session: await ortNode.InferenceSession.create(modelBytes, { executionProviders: ['cpu'] }) },
    { name: 'onnxruntime-web wasm', ort: ortWeb as unknown as Ort, session: await ortWeb.InferenceSession.create(modelBytes, { executionProviders: ['wasm'] }) },
  );
});

after(async () => {
  for (const rt of runtimes) await rt.session.release();
  rmSync(workDir, { recursive: true, force: true });
});

describe('com.emseg::RotatedNMS (ONNX model-local function)', () => {
  const cases = readJson<NmsCase[]>(cocoFixture('rotated_nms_cases.json'));

  it('keeps exactly the reference indices on every fixture case and threshold, in both runtimes', async () => {
    let compared = 0;
    for (const rt of runtimes) {
      for (const c of cases) {
        for (const thr of c.iou_thresholds) {
          const p = toFloat32({ name: c.name, boxes: c.boxes, scores: c.scores, threshold: thr, maxOutput: c.boxes.length });
          const got = await runOp(rt, p);
          // Equal to the fixture (computed in float64 on the unrounded values) and to nmsRotated on
          // the float32 values the op received.
          assert.deepEqual(got, c.keep[String(thr)], `${rt.name}: ${c.name} @ ${thr} vs fixture`);
          assert.deepEqual(got, reference(p), `${rt.name}: ${c.name} @ ${thr} vs nmsRotated`);
          compared++;
        }
      }
    }
    assert.equal(compared, 2 * cases.reduce((n, c) => n + c.iou_thresholds.length, 0));
  });

  it('equals nmsRotated on 240 seeded random and adversarial cases, in both runtimes', async () => {
    const problems = randomProblems();
    assert.ok(problems.length >= 200);
    let suppressedSome = 0;
    for (const p of problems) {
      const want = reference(p);
      if (want.length < Math.min(p.boxes.length, Math.max(p.maxOutput, 0))) suppressedSome++;
      for (const rt of runtimes) assert.deepEqual(await runOp(rt, p), want, `${rt.name}: ${p.name} (N=${p.boxes.length}, thr=${p.threshold}, max=${p.maxOutput})`);
    }
    // The generators must exercise suppression, not only trivial keeps.
    assert.ok(suppressedSome > problems.length / 3, `only ${suppressedSome} cases suppress anything`);
  });

  it('does not suppress at IoU exactly equal to the threshold, ties go to the lower index', async () => {
    // [0,0,3,1] and [1,0,3,1]: intersection 2, union 4, IoU exactly 0.5.
    const half: Problem = { name: 'iou 0.5', boxes: [[0, 0, 3, 1, 0], [1, 0, 3, 1, 0]], scores: [0.5, 0.5], threshold: 0.5, maxOutput: 2 };
    const below = { ...half, threshold: f32(0.4999) };
    const tie: Problem = { name: 'tie', boxes: [[0, 0, 2, 2, 0], [0, 0, 2, 2, 90], [0, 0, 2, 2, 180]], scores: [0.3, 0.3, 0.3], threshold: 0.5, maxOutput: 3 };
    for (const rt of runtimes) {
      assert.deepEqual(await runOp(rt, half), [0, 1], rt.name);
      assert.deepEqual(await runOp(rt, below), [0], rt.name);
      assert.deepEqual(await runOp(rt, tie), [0], rt.name);
      assert.deepEqual(await runOp(rt, { ...tie, scores: [0.3, 0.4, 0.4] }), [1], rt.name);
    }
  });

  it('is built from standard opset-17 ops only, declared in the com.emseg domain', () => {
    const model = rotatedNmsModel();
    const fn = model.functions?.[0];
    assert.ok(fn);
    assert.equal(fn.domain, EMSEG_DOMAIN);
    assert.equal(fn.name, ROTATED_NMS_OP);
    assert.deepEqual(fn.input, ['boxes', 'scores', 'iou_threshold', 'max_output', 'classes']);
    assert.deepEqual(fn.output, ['keep']);
    assert.deepEqual(fn.opsetImport?.map((o) => [o.domain, o.version]), [['', ONNX_OPSET]]);
    const domains = new Set<string>();
    const visit = (nodes: typeof fn.node): void => {
      for (const node of nodes ?? []) {
        domains.add(node.domain ?? '');
        for (const a of node.attribute ?? []) if (a.g) visit(a.g.node);
      }
    };
    visit(fn.node);
    assert.deepEqual([...domains], ['']);
    assert.deepEqual(model.opsetImport?.map((o) => [o.domain, o.version]), [['', 17], [EMSEG_DOMAIN, 1]]);
  });

  it('fails to load, naming the op, when the model does not carry the function', async () => {
    const bytes = encodeModel(rotatedNmsModel({ withFunction: false }));
    await assert.rejects(ortNode.InferenceSession.create(bytes), (e: Error) => {
      assert.match(e.message, /RotatedNMS/);
      assert.match(e.message, /not a registered function\/op/);
      return true;
    });
    await assert.rejects(ortWeb.InferenceSession.create(bytes), /RotatedNMS/);
  });

  it('decodeModel reads the written model back unchanged', () => {
    const model = decodeModel(modelBytes, 'rotated-nms.onnx');
    assert.equal(int64ToNumber(model.irVersion), 8);
    assert.equal(model.graph?.node?.[0].opType, ROTATED_NMS_OP);
    assert.equal(model.graph?.node?.[0].domain, EMSEG_DOMAIN);
    assert.equal(model.functions?.length, 1);
    assert.equal(model.functions?.[0].node?.length, rotatedNmsModel().functions?.[0].node?.length);
    assert.deepEqual(encodeModel(model), modelBytes);
  });

  it('decodeModel rejects bytes that are not an ONNX model with an EmsegError naming the source', () => {
    const garbage = [Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]), modelBytes.subarray(0, 1000), new TextEncoder().encode('hello, not onnx')];
    for (const bytes of garbage) {
      assert.throws(() => decodeModel(bytes, 'broken.onnx'), (e: unknown) => {
        assert.ok(e instanceof EmsegError);
        assert.equal(e.code, 'EMSEG_INVALID_ARGUMENT');
        assert.equal(e.file, 'broken.onnx');
        assert.match(e.message, /^broken\.onnx is not a valid ONNX model: /);
        return true;
      });
    }
  });

  it('passes the ONNX checker (Debian python3-onnx, full_check)', (t) => {
    const python = '/usr/bin/python3';
    if (!requireTool(t, pythonOnnxAvailable(), 'python3-onnx (apt-get install -y python3-onnx)')) return;
    const path = join(workDir, 'rotated-nms.onnx');
    writeFileSync(path, modelBytes);
    const script = 'import sys, onnx\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint("ok", m.ir_version)';
    const result = spawnSync(python, ['-c', script, path], { encoding: 'utf8' });
    assert.equal(result.status, 0, `onnx.checker failed:\n${result.stderr}`);
    assert.match(result.stdout, /^ok 8/);
  });
});
