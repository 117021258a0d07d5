import { EmsegError } from '../errors.ts';
import type { ImageOutputs } from './detections.ts';
import type { ModelInput } from './input.ts';
import { COMMON_OUTPUTS, MODEL_INPUTS, type ModelInfo } from './model-contract.ts';
import type { RunTile } from './pipeline.ts';

/**
 * One tile through an ONNX Runtime session, for both SDKs: the model contract's feeds, its outputs
 * checked and read. Typed structurally against what onnxruntime-node and onnxruntime-web share
 * (onnxruntime-common's Tensor and InferenceSession), so core/ imports no runtime.
 */
export interface TensorLike {
  readonly dims: readonly number[];
  getData(): Promise<unknown>;
  dispose(): void;
}

export interface SessionLike<T> {
  run(feeds: Record<string, T>): Promise<Record<string, TensorLike>>;
}

export type MakeTensor<T> = (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => T;

export function sessionTileRunner<T>(session: SessionLike<T>, tensor: MakeTensor<T>, info: ModelInfo, names: { image: string; model: string; runtime: string }): RunTile {
  return async (x: ModelInput): Promise<ImageOutputs> => {
    let out: Record<string, TensorLike>;
    try {
      out = await session.run({
        [MODEL_INPUTS.image]: tensor('float32', x.data, [1, 1, x.paddedHeight, x.paddedWidth]),
        [MODEL_INPUTS.imageSize]: tensor('int64', BigInt64Array.from([BigInt(x.height), BigInt(x.width)]), [1, 2]),
      });
    } catch (e) {
      throw new EmsegError('EMSEG_MODEL_RUN', `${names.image}: ${names.runtime} failed running ${names.model} on a ${x.width} x ${x.height} tile: ${(e as Error).message.split('\n')[0]}`, { file: names.image, cause: e });
    }
    // The model contract's outputs (docs/model-format.md): a file without them is not an emseg model.
    for (const k of COMMON_OUTPUTS) {
      if (!out[k]) throw new EmsegError('EMSEG_MODEL_RUN', `${names.model}: the model has no output "${k}" (outputs: ${Object.keys(out).join(', ')}); not an emseg detector (docs/model-format.md)`, { file: names.model });
    }
    // getData() downloads GPU-resident outputs (WebGPU) and returns CPU ones as they are; the arrays
    // stay valid after dispose, which drops only the tensors' own fields.
    const data = async <A>(k: string): Promise<A> => (await out[k].getData()) as A;
    const rows: ImageOutputs = {
      count: Number((await data<BigInt64Array>('count'))[0]),
      boxes: await data<Float32Array>('boxes'),
      scores: await data<Float32Array>('scores'),
      labels: await data<BigInt64Array>('labels'),
      ...(out.rboxes ? { rboxes: await data<Float32Array>('rboxes') } : {}),
      ...(out.masks ? { masks: await data<Float32Array>('masks'), maskResolution: info.maskResolution ?? out.masks.dims[3] } : {}),
    };
    for (const v of Object.values(out)) v.dispose();
    return rows;
  };
}
