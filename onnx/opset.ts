import type { OperatorSetId } from './proto.ts';

/** The standard ONNX operator set every emseg graph and function is written against. */
export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.10+) and is what onnx-proto 8.0.1 can express. */
export const IR_VERSION = 8;
/** emseg's own operator domain: custom ops carried as model-local functions. */
export const EMSEG_DOMAIN = 'com.emseg';
export const EMSEG_DOMAIN_VERSION = 1;

export function opsetImport(domain: string, version: number): OperatorSetId {
  return { domain, version };
}

/** The standard domain at opset 17 plus emseg's domain. */
export function defaultOpsetImports(): OperatorSetId[] {
  return [opsetImport('', ONNX_OPSET), opsetImport(EMSEG_DOMAIN, EMSEG_DOMAIN_VERSION)];
}
