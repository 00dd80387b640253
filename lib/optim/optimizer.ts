// What the trainer, the schedulers and the loss scaler need of an optimizer (SGD, Adam, AdamW).
import type { Tensor } from '../tensor.js';

/** A parameter group as the schedulers see it: they set lr; weight decay is read for the record. */
export interface OptimizerGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

/** Hyperparameters per group (with the group's size) and state tensors keyed '<parameter index>.<name>', as PyTorch lays them out. */
export interface OptimizerState {
  paramGroups: ({ size: number } & Record<string, unknown>)[];
  buffers: Record<string, Tensor>;
}

export interface Optimizer {
  readonly paramGroups: OptimizerGroup[];
  zeroGrad(): void;
  /** skipIfNonzero: a one-element int32 tensor on the parameters' device (GradScaler's non-finite flag). */
  step(options?: { skipIfNonzero?: Tensor }): void;
  stateDict(): OptimizerState;
  loadStateDict(state: OptimizerState): void;
  dispose(): void;
}

/** Drops the gradient of every parameter in `groups` (the next backward starts from zero). */
export function zeroGrads(groups: readonly { params: Tensor[] }[]): void {
  for (const g of groups) {
    for (const p of g.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}
