// emseg for browsers (`import { Detector } from 'emseg/web'`, or dist/web/emseg.js from a plain page).
// Lean on purpose: the page gets the worker proxy and the types; onnxruntime-web, the decoders and
// the pipeline load in the worker (InlineDetector runs them in the calling context instead).
export { Detector } from './detector.ts';
export type { ModelSource, RunOverrides, WebDetectorOptions, WebExecutionProvider, WebImageInput } from './inline-detector.ts';
export { EmsegError, isEmsegError, type EmsegErrorCode } from '../core/errors.ts';
export type { ImageResult, Instance } from '../core/inference/types.ts';
export type { ModelInfo, ModelTask } from '../core/inference/model-contract.ts';
export type { EmImage } from '../core/formats/types.ts';
