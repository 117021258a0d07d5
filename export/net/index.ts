/** ONNX export of networks described by `NetSpec` (training/net/spec.ts). */
export { buildSpecModel, type SpecModelOptions } from './spec-model.ts';
export { convWeightToOihw, emitSpec, type GraphContext, type SpecWeights } from './spec-to-onnx.ts';
