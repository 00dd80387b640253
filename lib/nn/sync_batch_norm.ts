// SyncBatchNorm: BatchNorm2d whose training-mode statistics are those of the whole data-parallel
// group (lib/ops/sync_batch_norm.ts). Alone, in evaluation mode or outside a group of several
// ranks it is BatchNorm2d. Off by default, as in PyTorch: convertSyncBatchNorm(model) turns a
// model's BatchNorm2d layers into SyncBatchNorm in place.
import { native } from '../binding.js';
import { isInitialized, worldSize } from '../distributed/group.js';
import { add, relu } from '../ops/elementwise.js';
import { syncBatchNorm2d } from '../ops/sync_batch_norm.js';
import type { Tensor } from '../tensor.js';
import { scope } from '../memory.js';
import { BatchNorm2d } from './layers.js';
import type { Module } from './module.js';

export class SyncBatchNorm extends BatchNorm2d {
  get synchronised(): boolean {
    return this.training && isInitialized() && worldSize() > 1;
  }

  override forward(x: Tensor): Tensor {
    if (!this.synchronised || this.folded) return super.forward(x);
    const counter = this.tensorNamed('num_batches_tracked');
    if (counter) native.increment(counter.handle);
    return syncBatchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, { momentum: this.momentum, eps: this.eps });
  }

  override forwardRelu(x: Tensor): Tensor {
    if (!this.synchronised || this.folded) return super.forwardRelu(x);
    return scope(() => relu(this.forward(x)));
  }

  override forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    if (!this.synchronised || this.folded) return super.forwardAddRelu(x, residual);
    return scope(() => relu(add(this.forward(x), residual)));
  }
}

/** Makes every BatchNorm2d of the model a SyncBatchNorm (in place: same tensors, same names); returns the model. */
export function convertSyncBatchNorm<M extends Module>(model: M): M {
  for (const m of model.modules()) {
    if (m instanceof BatchNorm2d && !(m instanceof SyncBatchNorm)) Object.setPrototypeOf(m, SyncBatchNorm.prototype);
  }
  return model;
}
