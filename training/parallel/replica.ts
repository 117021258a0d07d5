/**
 * What a data-parallel worker runs: a model replica that computes the gradient of its share of the
 * batch and applies the averaged update. Every replica starts from the same seeded weights, receives
 * the same averaged gradient and applies the same update, so the replicas stay bit-identical.
 */
export interface Replica {
  /** Total number of trainable values (length of the flat gradient). */
  readonly paramCount: number;
  /** Loss and the flat gradient (parameters in a fixed order) for one shard of the batch. */
  gradients(shard: unknown): { loss: number; grads: Float32Array };
  /** Apply the averaged flat gradient (same order) with the replica's optimizer. */
  apply(avgGrads: Float32Array): void;
  /** Current parameters, flat in the same order (for checkpoints and tests). */
  parameters(): Float32Array;
}

/** A module usable as a worker replica exports `createReplica`. */
export type ReplicaFactory = (init: unknown) => Promise<Replica>;
