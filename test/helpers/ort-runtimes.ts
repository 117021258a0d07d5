import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';

/** The ONNX runtimes exported models are checked in from Node: onnxruntime-node (CPU) and onnxruntime-web (wasm). */
export type Ort = typeof ortNode;
export const RUNTIMES: { name: string; ort: Ort; ep: string }[] = [
  { name: 'onnxruntime-node cpu', ort: ortNode, ep: 'cpu' },
  { name: 'onnxruntime-web wasm', ort: ortWeb as unknown as Ort, ep: 'wasm' },
];
