// Tensor: a handle on native storage with its shape, dtype, device and memory format, plus
// what autograd needs (requiresGrad, grad, the node that produced it).
import { BINARY, native, type DeviceName, type DType, type MemoryFormat, type NativeTensor, type TransportArray } from './binding.js';
import { noGrad, releaseNode, retainNode, runBackward, type GradNode } from './autograd.js';
import { finalizer, setTensorCheck, track, untracked } from './memory.js';
import { cast, toDevice, toMemoryFormat } from './ops/cast.js';
import { rules } from './ops/grad.js';
import { flatten, reshape } from './ops/shape.js';
import { checkDevice, checkDType, checkOptions, checkTensor } from './ops/validate.js';

export type { DType, MemoryFormat } from './binding.js';
export type Device = DeviceName;

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16'];
export const ALL_DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int32', 'int64', 'uint8'];

export interface ToOptions {
  dtype?: DType;
  device?: Device;
  memoryFormat?: MemoryFormat;
}

export interface BackwardOptions {
  /** Keep the saved tensors so that backward() can run through this graph again. */
  retainGraph?: boolean;
}

/** What runBackward needs besides the rules: gradient sums and aliases (new handles, same storage). */
const backwardHooks = {
  rules,
  add: (a: Tensor, b: Tensor) => wrap(native.binary(BINARY.add, a.handle, b.handle)),
  alias: (t: Tensor) => wrap(t.handle.alias()),
};

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly memoryFormat: MemoryFormat;
  /** The gradient accumulated by backward(); owned by this tensor. */
  grad: Tensor | null = null;
  /** @internal */ _handle: NativeTensor | null;
  /** @internal */ _node: GradNode | null = null;
  #requiresGrad = false;
  #token = {};

  /** @internal Tensors are made by the creation functions and ops, not with `new`. */
  constructor(handle: NativeTensor, node: GradNode | null = null) {
    this._handle = handle;
    this.shape = Object.freeze(handle.shape);
    this.dtype = handle.dtype;
    this.device = handle.device;
    this.memoryFormat = handle.format;
    if (node) {
      this._node = node;
      this.#requiresGrad = true;
      retainNode(node);
    }
    finalizer.register(this, { handle, release: () => node && releaseNode(node) }, this.#token);
    track(this);
  }

  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }
  set requiresGrad(value: boolean) {
    if (this._node && !value) throw new Error('requiresGrad: cannot be switched off on a tensor computed from others; use detach()');
    if (value && !FLOAT_DTYPES.includes(this.dtype)) {
      throw new TypeError(`requiresGrad: only floating-point tensors can require gradients, this one is ${this.dtype}`);
    }
    this.#requiresGrad = value;
  }

  /** True for tensors created by the user (not computed by a recorded op). */
  get isLeaf(): boolean {
    return this._node === null;
  }
  get disposed(): boolean {
    return this._handle === null;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const d = dim < 0 ? dim + this.shape.length : dim;
    if (d < 0 || d >= this.shape.length) throw new RangeError(`size: dimension ${dim} is out of range for a ${this.shape.length}-D tensor`);
    return this.shape[d]!;
  }

  /** @internal The native handle; throws when disposed. */
  get handle(): NativeTensor {
    if (this._handle === null) throw new TypeError(`tensor of shape [${this.shape}] was disposed`);
    return this._handle;
  }

  /**
   * The values in logical (row-major, NCHW) order: Float32Array for float dtypes, else Int32Array,
   * BigInt64Array or Uint8Array. `toArray('float32')` gives a Float32Array whatever the dtype
   * (integers converted), typed as such.
   */
  toArray(): TransportArray;
  toArray(as: 'float32'): Float32Array;
  toArray(as?: 'float32'): TransportArray {
    checkReadAs('toArray', as);
    const values = native.toArray(this.handle);
    return as === undefined ? values : asFloat32(values);
  }
  /** As toArray(), copying on a worker thread so the event loop stays free. */
  data(): Promise<TransportArray>;
  data(as: 'float32'): Promise<Float32Array>;
  data(as?: 'float32'): Promise<TransportArray> {
    checkReadAs('data', as);
    const values = native.readAsync(this.handle);
    return as === undefined ? values : values.then(asFloat32);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item: the tensor has ${this.numel} elements (shape [${this.shape}]), expected exactly one`);
    return Number(this.toArray()[0]);
  }

  /** Frees the native memory now. Idempotent. */
  dispose(): void {
    const handle = this._handle;
    if (handle === null) return;
    this._handle = null;
    finalizer.unregister(this.#token);
    handle.dispose();
    const node = this._node;
    if (node) releaseNode(node);
    this.grad?.dispose();
    this.grad = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Accumulates the gradient of this tensor into the .grad of every leaf that requires grad. */
  backward(gradient?: Tensor, options?: BackwardOptions): void {
    const o = checkOptions('backward', options, ['retainGraph']);
    checkTensor('backward', 'the tensor', this);
    if (!this.requiresGrad) {
      throw new Error('backward: this tensor does not require grad (no input of the computation had requiresGrad: true, or it ran inside noGrad)');
    }
    if (gradient === undefined && this.numel !== 1) {
      throw new RangeError(`backward: a gradient argument is needed for a non-scalar output (shape [${this.shape}])`);
    }
    if (gradient !== undefined) {
      checkTensor('backward', 'gradient', gradient);
      if (gradient.shape.length !== this.shape.length || gradient.shape.some((s, i) => s !== this.shape[i])) {
        throw new RangeError(`backward: gradient shape [${gradient.shape}] differs from the output's [${this.shape}]`);
      }
    }
    untracked(() => noGrad(() => {
      const seed = gradient ?? wrap(native.full([...this.shape], 1, 'float32', this.device));
      try {
        if (this._node) {
          runBackward(this._node, seed, o.retainGraph === true, backwardHooks);
        } else {
          const previous = this.grad;
          this.grad = previous ? backwardHooks.add(previous, seed) : backwardHooks.alias(seed);
          previous?.dispose();
        }
      } finally {
        if (seed !== gradient) seed.dispose();
      }
    }));
  }

  /** A copy on another device, dtype or memory format; the tensor itself when nothing changes. */
  to(target: Device | ToOptions): Tensor {
    const o: ToOptions = typeof target === 'string' ? { device: target } : (checkOptions('to', target, ['dtype', 'device', 'memoryFormat']) as ToOptions);
    checkTensor('to', 'the tensor', this);
    if (o.device !== undefined) checkDevice('to', o.device);
    let result: Tensor = this;
    if (o.device !== undefined && o.device !== this.device) result = toDevice(this, o.device);
    if (o.dtype !== undefined && o.dtype !== result.dtype) {
      const converted = cast(result, checkDType('to', 'dtype', o.dtype, ALL_DTYPES));
      if (result !== this) result.dispose();
      result = converted;
    }
    if (o.memoryFormat !== undefined && o.memoryFormat !== result.memoryFormat) {
      const format: MemoryFormat = o.memoryFormat;
      if (format !== 'contiguous' && format !== 'channelsLast') throw new TypeError(`to: memoryFormat must be 'contiguous' or 'channelsLast', got ${String(format)}`);
      if (format === 'channelsLast' && result.ndim !== 4) throw new RangeError(`to: channelsLast needs a 4-D tensor, got shape [${result.shape}]`);
      const converted = toMemoryFormat(result, format);
      if (result !== this) result.dispose();
      result = converted;
    }
    return result;
  }

  reshape(shape: readonly number[]): Tensor {
    return reshape(this, shape);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return flatten(this, startDim, endDim);
  }
  /** Same storage, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(this.handle.alias());
  }
  clone(): Tensor {
    return toMemoryFormat(this, this.memoryFormat);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** @internal Wraps a handle that an op returned. */
export function wrap(handle: NativeTensor, node: GradNode | null = null): Tensor {
  return new Tensor(handle, node);
}

function checkReadAs(name: string, as: unknown): void {
  if (as !== undefined && as !== 'float32') throw new TypeError(`${name}: the only conversion is 'float32', got ${String(as)}`);
}

/** The values as float32: the array itself when it already is one. */
function asFloat32(values: TransportArray): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values instanceof BigInt64Array) return Float32Array.from(values, (v) => Number(v));
  return Float32Array.from(values);
}
