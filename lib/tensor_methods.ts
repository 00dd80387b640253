// Methods of Tensor that are built on ops and autograd (kept out of tensor.ts so that the
// Tensor class does not import the ops that import it).
import { native, type MemoryFormat } from './binding.js';
import { noGrad, runBackward } from './autograd.js';
import { untracked } from './memory.js';
import { cast, toMemoryFormat } from './ops/cast.js';
import { rules } from './ops/grad.js';
import { flatten, reshape } from './ops/shape.js';
import { checkDType, checkOptions, checkTensor } from './ops/validate.js';
import { ALL_DTYPES, Tensor, wrap, type Device, type ToOptions } from './tensor.js';

export interface BackwardOptions {
  /** Keep the saved tensors so that backward() can run through this graph again. */
  retainGraph?: boolean;
}

declare module './tensor.js' {
  interface Tensor {
    /** Accumulates the gradient of this tensor into the .grad of every leaf that requires grad. */
    backward(gradient?: Tensor, options?: BackwardOptions): void;
    /** A copy on another device, dtype or memory format; the tensor itself when nothing changes. */
    to(target: Device | ToOptions): Tensor;
    reshape(shape: readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Same storage, cut from the autograd graph. */
    detach(): Tensor;
    clone(): Tensor;
  }
}

const hooks = {
  rules,
  add: (a: Tensor, b: Tensor) => wrap(native.binary(0, a.handle, b.handle)),
  alias: (t: Tensor) => wrap(t.handle.alias()),
};

Tensor.prototype.backward = function backward(this: Tensor, gradient?: Tensor, options?: BackwardOptions): void {
  const o = checkOptions('backward', options, ['retainGraph']);
  checkTensor('backward', 'the tensor', this);
  if (!this.requiresGrad) {
    throw new Error('backward: this tensor does not require grad (no input of the computation had requiresGrad: true, or it ran inside noGrad)');
  }
  if (gradient === undefined && this.numel !== 1) {
    throw new RangeError(`backward: a gradient argument is needed for a non-scalar output (shape [${this.shape}])`);
  }
  if (gradient !== undefined) {
    if (!(gradient instanceof Tensor) || gradient.disposed) throw new TypeError('backward: gradient must be a live Tensor');
    if (gradient.shape.length !== this.shape.length || gradient.shape.some((s, i) => s !== this.shape[i])) {
      throw new RangeError(`backward: gradient shape [${gradient.shape}] differs from the output's [${this.shape}]`);
    }
  }
  untracked(() => noGrad(() => {
    const seed = gradient ?? wrap(native.full([...this.shape], 1, 'float32'));
    try {
      if (this._node) {
        runBackward(this._node, seed, o.retainGraph === true, hooks);
      } else {
        const previous = this.grad;
        this.grad = previous ? hooks.add(previous, seed) : hooks.alias(seed);
        previous?.dispose();
      }
    } finally {
      if (seed !== gradient) seed.dispose();
    }
  }));
};

Tensor.prototype.to = function to(this: Tensor, target: Device | ToOptions): Tensor {
  const o: ToOptions = typeof target === 'string' ? { device: target } : (checkOptions('to', target, ['dtype', 'device', 'memoryFormat']) as ToOptions);
  checkTensor('to', 'the tensor', this);
  if (o.device !== undefined && o.device !== 'cpu') {
    if (o.device !== 'cuda') throw new TypeError(`to: device must be 'cpu' or 'cuda', got ${String(o.device)}`);
    const cuda = native.backends().cuda;
    throw new Error(`to: CUDA tensors are not available (${cuda.reason ?? 'this build has no CUDA device tensors yet'})`);
  }
  let result: Tensor = this;
  if (o.dtype !== undefined && o.dtype !== this.dtype) result = cast(this, checkDType('to', 'dtype', o.dtype, ALL_DTYPES));
  if (o.memoryFormat !== undefined && o.memoryFormat !== result.memoryFormat) {
    const format: MemoryFormat = o.memoryFormat;
    if (format !== 'contiguous' && format !== 'channelsLast') throw new TypeError(`to: memoryFormat must be 'contiguous' or 'channelsLast', got ${String(format)}`);
    if (format === 'channelsLast' && result.ndim !== 4) throw new RangeError(`to: channelsLast needs a 4-D tensor, got shape [${result.shape}]`);
    const converted = toMemoryFormat(result, format);
    if (result !== this) result.dispose();
    result = converted;
  }
  return result;
};

Tensor.prototype.reshape = function (this: Tensor, shape: readonly number[]): Tensor {
  return reshape(this, shape);
};
Tensor.prototype.flatten = function (this: Tensor, startDim = 0, endDim = -1): Tensor {
  return flatten(this, startDim, endDim);
};
Tensor.prototype.detach = function (this: Tensor): Tensor {
  return wrap(this.handle.alias());
};
Tensor.prototype.clone = function (this: Tensor): Tensor {
  return toMemoryFormat(this, this.memoryFormat);
};
