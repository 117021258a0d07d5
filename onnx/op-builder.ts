import { attr } from './attribute.ts';
import { dataTypeCode, type TensorElementType } from './data-type.ts';
import { makeNode } from './node.ts';
import type { AttributeProto, NodeProto } from './proto.ts';
import { makeTensor, type TensorValues } from './tensor.ts';

export interface OpOptions {
  attributes?: readonly AttributeProto[];
  domain?: string;
  /** Number of outputs (default 1); names are generated. */
  outputs?: number;
  /** Readable stem for the generated output names. */
  hint?: string;
}

/**
 * Emits nodes for a graph or function body with generated, unique value names, so the code that
 * builds a large body reads like the computation (`b.mul(x, y)`) rather than like protobuf.
 * Constants become Constant nodes because function bodies cannot hold initializers.
 */
export class OpBuilder {
  readonly nodes: NodeProto[] = [];
  private counter = 0;
  /** Scalar constants already emitted, by type and value: one Constant node each, not one per use. */
  private readonly scalars = new Map<string, string>();

  /** `prefix` keeps names unique when several builders feed one model (e.g. a Loop body). */
  constructor(readonly prefix: string) {}

  fresh(hint = 'v'): string {
    return `${this.prefix}${hint}_${this.counter++}`;
  }

  /**
   * A builder for a subgraph (Loop or If body) whose names cannot clash with this one's. Subgraph
   * nodes may read this builder's values by name (ONNX's outer-scope references).
   */
  child(hint: string): OpBuilder {
    return new OpBuilder(`${this.fresh(hint)}_`);
  }

  /** Any op; returns its output names. */
  opN(opType: string, inputs: readonly string[], options: OpOptions = {}): string[] {
    const outputs = Array.from({ length: options.outputs ?? 1 }, () => this.fresh(options.hint ?? opType.toLowerCase()));
    this.nodes.push(makeNode(opType, inputs, outputs, {
      name: this.fresh(`n_${opType}`),
      domain: options.domain ?? '',
      attributes: options.attributes ?? [],
    }));
    return outputs;
  }

  /** A single-output op; returns the output name. */
  op(opType: string, inputs: readonly string[], attributes: readonly AttributeProto[] = [], hint?: string): string {
    return this.opN(opType, inputs, { attributes, hint })[0];
  }

  /** A single-output op writing to a chosen name (graph and function outputs have fixed names). */
  opTo(output: string, opType: string, inputs: readonly string[], attributes: readonly AttributeProto[] = []): string {
    this.nodes.push(makeNode(opType, inputs, [output], { name: this.fresh(`n_${opType}`), attributes }));
    return output;
  }

  constant(type: TensorElementType, dims: readonly number[], values: TensorValues, hint = 'const'): string {
    const name = this.fresh(hint);
    this.nodes.push(makeNode('Constant', [], [name], {
      name: this.fresh('n_Constant'),
      attributes: [attr.tensor('value', makeTensor(name, type, dims, values))],
    }));
    return name;
  }

  scalar(type: TensorElementType, value: number | boolean, hint = 'const'): string {
    // Object.is-style key: keeps -0 and 0 apart.
    const key = `${type}:${Object.is(value, -0) ? '-0' : String(Number(value))}`;
    let name = this.scalars.get(key);
    if (name === undefined) {
      name = this.constant(type, [], [Number(value)], hint);
      this.scalars.set(key, name);
    }
    return name;
  }

  /** A 1-D int64 constant, the form shape, axes and slice arguments take. */
  int64s(values: readonly number[], hint = 'ints'): string {
    return this.constant('int64', [values.length], values, hint);
  }

  // Elementwise arithmetic and logic (numpy broadcasting).
  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  neg(a: string): string { return this.op('Neg', [a]); }
  abs(a: string): string { return this.op('Abs', [a]); }
  min(...xs: string[]): string { return this.op('Min', xs); }
  max(...xs: string[]): string { return this.op('Max', xs); }
  and(a: string, b: string): string { return this.op('And', [a, b]); }
  or(a: string, b: string): string { return this.op('Or', [a, b]); }
  not(a: string): string { return this.op('Not', [a]); }
  equal(a: string, b: string): string { return this.op('Equal', [a, b]); }
  less(a: string, b: string): string { return this.op('Less', [a, b]); }
  lessOrEqual(a: string, b: string): string { return this.op('LessOrEqual', [a, b]); }
  greater(a: string, b: string): string { return this.op('Greater', [a, b]); }
  greaterOrEqual(a: string, b: string): string { return this.op('GreaterOrEqual', [a, b]); }
  where(cond: string, a: string, b: string): string { return this.op('Where', [cond, a, b]); }
  cast(x: string, to: TensorElementType): string { return this.op('Cast', [x], [attr.int('to', dataTypeCode(to))]); }

  // Shapes and indexing.
  shape(x: string, start?: number, end?: number): string {
    const attributes = [...(start === undefined ? [] : [attr.int('start', start)]), ...(end === undefined ? [] : [attr.int('end', end)])];
    return this.op('Shape', [x], attributes);
  }
  reshape(x: string, shape: string): string { return this.op('Reshape', [x, shape]); }
  unsqueeze(x: string, axes: readonly number[]): string { return this.op('Unsqueeze', [x, this.int64s(axes, 'axes')]); }
  squeeze(x: string, axes: readonly number[]): string { return this.op('Squeeze', [x, this.int64s(axes, 'axes')]); }
  concat(xs: readonly string[], axis: number): string { return this.op('Concat', xs, [attr.int('axis', axis)]); }
  gather(data: string, indices: string, axis = 0): string { return this.op('Gather', [data, indices], [attr.int('axis', axis)]); }
  gatherElements(data: string, indices: string, axis: number): string {
    return this.op('GatherElements', [data, indices], [attr.int('axis', axis)]);
  }
  /** Slice along one axis with constant bounds; `end` may be a value name for dynamic bounds. */
  slice(x: string, axis: number, start: number | string, end: number | string): string {
    const s = typeof start === 'number' ? this.int64s([start], 'start') : start;
    const e = typeof end === 'number' ? this.int64s([end], 'end') : end;
    return this.op('Slice', [x, s, e, this.int64s([axis], 'axes')]);
  }
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.op('ReduceSum', [x, this.int64s(axes, 'axes')], [attr.int('keepdims', keepdims ? 1 : 0)]);
  }
  reduceMax(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.op('ReduceMax', [x], [attr.ints('axes', axes), attr.int('keepdims', keepdims ? 1 : 0)]);
  }
  /** `[0, 1, ..., limit - 1]` (int64) for a scalar int64 `limit`. */
  range(limit: string): string {
    return this.op('Range', [this.scalar('int64', 0, 'zero'), limit, this.scalar('int64', 1, 'one')]);
  }
  /** A tensor of the (1-D int64) `shape` filled with `value`. */
  filled(shape: string, type: TensorElementType, value: number | boolean): string {
    return this.op('ConstantOfShape', [shape], [attr.tensor('value', makeTensor('value', type, [1], [Number(value)]))]);
  }
}
