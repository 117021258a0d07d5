import { makeGraph, makeModel, tensorValueInfo, type ModelProto } from '../../onnx/index.ts';
import { rotatedNmsFunction, rotatedNmsNode } from './rotated-nms.ts';

export interface RotatedNmsModelOptions {
  /** Attach the function definition (default true); false gives a model no runtime can load. */
  withFunction?: boolean;
}

/**
 * A model whose graph is one `com.emseg::RotatedNMS` node: graph inputs boxes [N, 5], scores [N],
 * iou_threshold [], max_output [], classes [N] and output keep [K]. For tests, benchmarks and as the smallest
 * example of a model carrying the function.
 */
export function rotatedNmsModel(options: RotatedNmsModelOptions = {}): ModelProto {
  const node = rotatedNmsNode({ boxes: 'boxes', scores: 'scores', iouThreshold: 'iou_threshold', maxOutput: 'max_output', classes: 'classes' }, 'keep');
  const graph = makeGraph({
    name: 'rotated_nms',
    nodes: [node],
    inputs: [
      tensorValueInfo('boxes', 'float32', ['N', 5]),
      tensorValueInfo('scores', 'float32', ['N']),
      tensorValueInfo('iou_threshold', 'float32', []),
      tensorValueInfo('max_output', 'int64', []),
      tensorValueInfo('classes', 'int64', ['N']),
    ],
    outputs: [tensorValueInfo('keep', 'int64', ['K'])],
  });
  return makeModel({ graph, functions: options.withFunction === false ? [] : [rotatedNmsFunction()] });
}
