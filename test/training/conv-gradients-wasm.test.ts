import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../training/backend/select-backend.ts';
import { onnxruntimeConvCounts } from '../../training/backend/onnxruntime-convs.ts';
import { assertMatchesReference, referenceGradients } from '../helpers/conv-cases.ts';

/**
 * emseg's XNNPACK-based convolution gradient kernels (the fallback where onnxruntime-node is absent,
 * chosen here with EMSEG_CONV_KERNELS=wasm) against the cpu backend's direct definitions.
 */
describe('wasm convolution gradient kernels without onnxruntime', () => {
  let reference: ReturnType<typeof referenceGradients>;
  before(async () => {
    await tf.setBackend('cpu');
    reference = referenceGradients();
    process.env.EMSEG_CONV_KERNELS = 'wasm';
    await selectBackend('wasm');
  });

  it('equal the cpu backend (strides 1-3, same/valid/explicit pads, 1x1 to 7x7, FC, transposed)', () => {
    assertMatchesReference(reference);
    assert.equal(onnxruntimeConvCounts().onnxruntime, 0, 'onnxruntime convolutions are off');
  });
});
