import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmsegError } from '../../core/errors.ts';
import { boxIoUXYXY } from '../../core/geometry/box-iou.ts';
import type { EmImage } from '../../core/formats/types.ts';
import { planTiles, ownedByTile } from '../../core/inference/tiling.ts';
import type { Instance } from '../../core/inference/types.ts';
import { cocoSegmentationToRle } from '../../core/mask/coco-segmentation.ts';
import { rleArea } from '../../core/mask/rle.ts';
import { Detector, cudaInstalled } from '../../sdk-node/detector.ts';
import { decodeModel, encodeModel } from '../../onnx/index.ts';
import { readImage } from '../../sdk-node/read-image.ts';
import { repoRoot } from '../helpers/fixtures.ts';

/**
 * The Node SDK on the zoo's vesicle and nanorod models and their sample images: result shape, masks
 * and measurements in nm, tiled inference (no double counts, the same objects as whole-image
 * inference), rescaling to the model's pixel size, and clear errors for bad images and models.
 */
const samples = join(repoRoot, 'model-zoo', 'samples');
const vesicleImage = join(samples, 'tem-vesicles-0000.tif');
const rodImage = join(samples, 'nanorods', 'haadf-nanorods-0000.tif');
let work = '';
const quiet = { log: () => {} };

before(() => {
  work = mkdtempSync(join(tmpdir(), 'emseg-sdk-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function matchCount(a: Instance[], b: Instance[], iou = 0.5): number {
  const used = new Set<number>();
  let n = 0;
  for (const x of a) {
    const j = b.findIndex((y, k) => !used.has(k) && y.label === x.label && boxIoUXYXY(x.box, y.box) > iou);
    if (j >= 0) {
      used.add(j);
      n++;
    }
  }
  return n;
}

describe('Detector (onnxruntime-node)', () => {
  it('vesicle model: masks, boxes and measurements in nm on a calibrated TIFF', async () => {
    const det = new Detector('vesicles', quiet);
    try {
      // CPU without onnxruntime's CUDA provider; with it, CUDA (or CPU when no GPU answers).
      const provider = await det.provider();
      assert.ok(cudaInstalled() ? ['cuda', 'cpu'].includes(provider) : provider === 'cpu', provider);
      const r = await det.run(vesicleImage);
      assert.equal(r.width, 512);
      assert.deepEqual(r.pixelSize, { x: 1, y: 1 });
      assert.ok(r.instances.length > 50, `${r.instances.length} objects`);
      assert.deepEqual([...new Set(r.instances.map((i) => i.label))].sort(), ['hole', 'large_vesicle', 'small_vesicle']);
      for (const inst of r.instances) {
        assert.ok(inst.score >= 0.5 && inst.score <= 1);
        assert.ok(inst.mask, 'a mask');
        const area = rleArea(cocoSegmentationToRle(inst.mask, 512, 512, 'mask'));
        assert.equal(inst.measurements?.unit, 'nm');
        // 1 nm pixels: the measured area is the mask's pixel count.
        assert.equal(inst.measurements?.area, area);
        assert.ok(area > 0 && area <= (inst.box[2] - inst.box[0] + 1) * (inst.box[3] - inst.box[1] + 1));
        assert.ok((inst.measurements?.meanIntensity ?? 0) > 0);
      }
      // Large vesicles are much larger than small ones.
      const ecd = (label: string): number => {
        const v = r.instances.filter((i) => i.label === label).map((i) => i.measurements?.equivalentDiameter ?? 0);
        return v.reduce((a, b) => a + b, 0) / v.length;
      };
      assert.ok(ecd('large_vesicle') > 2 * ecd('small_vesicle'), `ECD ${ecd('large_vesicle')} vs ${ecd('small_vesicle')}`);
    } finally {
      await det.dispose();
    }
  });

  it('zoo alias vesicle-large reports only that class; inputs as path, bytes and pixels agree', async () => {
    const det = new Detector('vesicle-large', quiet);
    try {
      const fromPath = await det.run(vesicleImage);
      assert.ok(fromPath.instances.length > 5 && fromPath.instances.every((i) => i.label === 'large_vesicle'));
      const fromBytes = await det.run(new Uint8Array(readFileSync(vesicleImage)));
      const decoded = await readImage(vesicleImage);
      const fromPixels = await det.run({ data: decoded.data, width: decoded.width, height: decoded.height, pixelSize: decoded.pixelSize });
      assert.deepEqual(fromBytes.instances, fromPath.instances);
      assert.deepEqual(fromPixels.instances, fromPath.instances);
    } finally {
      await det.dispose();
    }
  });

  it('nanorod model: rotated boxes, rod length/width/angle', async () => {
    const det = new Detector('nanorod', quiet);
    try {
      const r = await det.run(rodImage);
      assert.ok(r.instances.length > 10, `${r.instances.length} rods`);
      for (const inst of r.instances) {
        assert.ok(inst.rbox);
        const m = inst.measurements;
        assert.ok(m?.length !== undefined && m.width !== undefined);
        assert.equal(m.length, Math.max(inst.rbox[2], inst.rbox[3]));
        assert.ok((m.aspectRatio ?? 0) > 1);
      }
    } finally {
      await det.dispose();
    }
  });

  it('tiles partition the image: every point is owned by exactly one tile', () => {
    const tiles = planTiles(1000, 700, 256, 64);
    for (const [x, y] of [[0, 0], [999.5, 699.5], [200, 200], [511, 300], [700, 650]]) {
      assert.equal(tiles.filter((t) => ownedByTile(t, x, y)).length, 1, `point ${x}, ${y}`);
    }
    assert.ok(tiles.every((t) => t.x + t.width <= 1000 && t.y + t.height <= 700));
  });

  it('tiled inference finds the same objects as one pass, none twice', async () => {
    const whole = new Detector('vesicles', { ...quiet, tile: false });
    const tiled = new Detector('vesicles', { ...quiet, tile: { size: 256, overlap: 96 } });
    try {
      const a = (await whole.run(vesicleImage)).instances;
      const b = (await tiled.run(vesicleImage)).instances;
      // No double counts: no two tiled detections of a class overlap much.
      for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++) {
        if (b[i].label === b[j].label) assert.ok(boxIoUXYXY(b[i].box, b[j].box) < 0.7, `tiled detections ${i} and ${j} overlap`);
      }
      const matched = matchCount(a, b);
      console.log(`whole image ${a.length} objects, 256-pixel tiles ${b.length}, matched ${matched}`);
      assert.ok(matched >= 0.9 * a.length && Math.abs(a.length - b.length) <= 0.1 * a.length, `${matched} of ${a.length} matched (${b.length} tiled)`);
    } finally {
      await whole.dispose();
      await tiled.dispose();
    }
  });

  it('rescales images to the model pixel size: a 2x-binned image gives the same objects at half the coordinates', async () => {
    const im = await readImage(vesicleImage);
    const half: EmImage = { ...im, width: 256, height: 256, data: new Float32Array(256 * 256), dtype: 'float32', pixelSize: { x: 2, y: 2 } };
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) {
      const i = 2 * y * 512 + 2 * x;
      half.data[y * 256 + x] = (im.data[i] + im.data[i + 1] + im.data[i + 512] + im.data[i + 513]) / 4;
    }
    const det = new Detector('vesicle-large', quiet);
    try {
      const full = (await det.run(im)).instances;
      const binned = await det.run(half);
      assert.equal(binned.width, 256);
      const scaled = binned.instances.map((i) => ({ ...i, box: i.box.map((v) => 2 * v) as Instance['box'] }));
      const matched = matchCount(full, scaled, 0.5);
      console.log(`full resolution ${full.length} large vesicles, 2x binned (resampled to 1 nm) ${binned.instances.length}, matched ${matched}`);
      assert.ok(matched >= 0.8 * full.length, `${matched} of ${full.length}`);
      // Areas in nm agree (the binned image's pixels are 4 nm²).
      const a = full.reduce((s, i) => s + (i.measurements?.area ?? 0), 0) / full.length;
      const b = binned.instances.reduce((s, i) => s + (i.measurements?.area ?? 0), 0) / binned.instances.length;
      assert.ok(Math.abs(a - b) / a < 0.15, `mean area ${a} nm² vs ${b} nm²`);
    } finally {
      await det.dispose();
    }
  });

  it('bad inputs and models: typed errors naming the file', async () => {
    const det = new Detector('vesicles', quiet);
    const corrupt = join(work, 'corrupt.tif');
    writeFileSync(corrupt, readFileSync(vesicleImage).subarray(0, 3000));
    try {
      await assert.rejects(det.run(corrupt), (e: unknown) => e instanceof EmsegError && e.message.includes('corrupt.tif'));
      await assert.rejects(det.run(join(work, 'missing.tif')), (e: unknown) => e instanceof EmsegError && /no such file/.test(e.message));
      await assert.rejects(det.run({ data: new Float32Array(10), width: 4, height: 4 }), (e: unknown) => e instanceof EmsegError && /10 pixel values for a 4 x 4 image/.test(e.message));
      // An absurd calibration: 64 px at 2000 nm/px for a 1 nm/px model would be 128000^2 pixels.
      const absurd = { data: new Float32Array(64 * 64), width: 64, height: 64, pixelSize: { x: 2000, y: 2000 } };
      await assert.rejects(det.run(absurd), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_IMAGE_TOO_LARGE' && /gives 128000 x 128000 px/.test(e.message));
      assert.equal((await det.run({ ...absurd, pixelSize: { x: 2, y: 2 } })).width, 64, "a sane calibration still runs");
    } finally {
      await det.dispose();
    }
    const notOnnx = join(work, 'model.onnx');
    writeFileSync(notOnnx, 'this is not a model');
    await assert.rejects(new Detector(notOnnx, quiet).info(), (e: unknown) => e instanceof EmsegError && e.message.startsWith(notOnnx));
    // A loadable model without the contract's outputs: EMSEG_MODEL_RUN naming the output (was a TypeError).
    const zooFile = join(repoRoot, 'model-zoo', 'vesicles', 'vesicles.onnx');
    const model = decodeModel(new Uint8Array(readFileSync(zooFile)), zooFile);
    model.graph!.node!.push({ opType: 'Identity', input: ['count'], output: ['objects'], name: 'rename_count' });
    model.graph!.output = model.graph!.output!.map((o) => (o.name === 'count' ? { ...o, name: 'objects' } : o));
    const renamed = join(work, 'renamed-output.onnx');
    writeFileSync(renamed, encodeModel(model));
    const r = new Detector(renamed, quiet);
    try {
      await assert.rejects(r.run(vesicleImage), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_MODEL_RUN' && /no output "count"/.test(e.message));
    } finally {
      await r.dispose();
    }
    await assert.rejects(new Detector(join(work, 'none.onnx'), quiet).info(), (e: unknown) => e instanceof EmsegError && /no such file/.test(e.message));
    assert.throws(() => new Detector('no-such-zoo-model', quiet), (e: unknown) => e instanceof EmsegError && /neither a model file nor a zoo model/.test(e.message));
    await assert.rejects(new Detector('vesicles', { ...quiet, classes: ['mitochondrion'] }).info(), (e: unknown) => e instanceof EmsegError && /no class "mitochondrion"/.test(e.message));
  });

  it('runBatch yields every input in order, errors included', async () => {
    const det = new Detector('vesicle-small', quiet);
    try {
      const items = [];
      for await (const item of det.runBatch([vesicleImage, join(work, 'missing.tif'), join(samples, 'tem-vesicles-0001.tif')], { concurrency: 2 })) items.push(item);
      assert.deepEqual(items.map((i) => i.index), [0, 1, 2]);
      assert.ok(items[0].result && items[2].result && !items[1].result);
      assert.ok(items[1].error instanceof EmsegError);
    } finally {
      await det.dispose();
    }
  });
});
