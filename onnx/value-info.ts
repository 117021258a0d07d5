import { dataTypeCode, type TensorElementType } from './data-type.ts';
import type { ValueInfoProto } from './proto.ts';

/** A dimension: a fixed size, a symbolic name shared across values (e.g. 'N'), or null for unknown. */
export type Dim = number | string | null;

/** ValueInfoProto of a tensor; `shape` undefined leaves the rank unknown too. */
export function tensorValueInfo(name: string, type: TensorElementType, shape?: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dataTypeCode(type),
        shape: shape === undefined
          ? null
          : { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) },
      },
    },
  };
}
