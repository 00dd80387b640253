// Creation functions: tensor, zeros, ones, full, rand, randn, arange, and the *Like forms.
import { native, type NativeTensor, type TransportArray } from './binding.js';
import { ALL_DTYPES, FLOAT_DTYPES, Tensor, wrap, type Device, type DType, type MemoryFormat } from './tensor.js';
import { checkDevice, checkDType, checkInt, checkNumber, checkOptions } from './ops/validate.js';
import { nextSeed } from './random.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
  memoryFormat?: MemoryFormat;
}

type Nested = number | boolean | Nested[];
const OPTION_KEYS = ['dtype', 'device', 'requiresGrad', 'memoryFormat'];

function parseOptions(op: string, options: CreateOptions | undefined, defaultDType: DType) {
  const o = checkOptions(op, options, OPTION_KEYS);
  const dtype = checkDType(op, 'dtype', o.dtype ?? defaultDType, ALL_DTYPES);
  const device = checkDevice(op, o.device ?? 'cpu');
  const requiresGrad = o.requiresGrad ?? false;
  if (typeof requiresGrad !== 'boolean') throw new TypeError(`${op}: requiresGrad must be a boolean`);
  if (requiresGrad && !FLOAT_DTYPES.includes(dtype)) throw new TypeError(`${op}: only floating-point tensors can require gradients, dtype is ${dtype}`);
  const memoryFormat = o.memoryFormat ?? 'contiguous';
  if (memoryFormat !== 'contiguous' && memoryFormat !== 'channelsLast') {
    throw new TypeError(`${op}: memoryFormat must be 'contiguous' or 'channelsLast', got ${String(memoryFormat)}`);
  }
  return { dtype, device, requiresGrad, memoryFormat: memoryFormat as MemoryFormat };
}

export function checkShapeArg(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be an array of non-negative integers, got ${typeof shape}`);
  return shape.map((s) => checkInt(op, 'shape entry', s, 0));
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as Nested;
  }
  return shape;
}

function flattenNested(op: string, data: Nested, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new RangeError(`${op}: ragged nested array (expected a number at depth ${depth})`);
    out.push(typeof data === 'boolean' ? Number(data) : data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new RangeError(`${op}: ragged nested array: expected ${shape[depth]} entries at depth ${depth}`);
  }
  for (const v of data) flattenNested(op, v, shape, depth + 1, out);
}

function transportFor(dtype: DType, values: ArrayLike<number> | BigInt64Array): TransportArray {
  switch (dtype) {
    case 'int32': return Int32Array.from(values as ArrayLike<number>, Number);
    case 'int64': return values instanceof BigInt64Array ? values : BigInt64Array.from(values as ArrayLike<number>, (v) => {
      if (!Number.isInteger(v)) throw new TypeError(`tensor: int64 values must be integers, got ${v}`);
      return BigInt(v);
    });
    case 'uint8': return Uint8Array.from(values as ArrayLike<number>, Number);
    default: return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>, Number);
  }
}

function dtypeOfArray(data: unknown): DType | undefined {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  return undefined;
}

function finish(t: Tensor, requiresGrad: boolean): Tensor {
  if (requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * A tensor from values: a (nested) array of numbers or a typed array, with an optional shape
 * (required for flat data of rank > 1; inferred from nested arrays).
 */
export function tensor(
  data: Nested | ArrayLike<number> | BigInt64Array,
  shape?: readonly number[] | CreateOptions,
  options?: CreateOptions,
): Tensor {
  const op = 'tensor';
  if (shape !== undefined && !Array.isArray(shape)) {
    options = shape as CreateOptions;
    shape = undefined;
  }
  const isTyped = ArrayBuffer.isView(data);
  const isNumber = typeof data === 'number';
  if (!isTyped && !isNumber && !Array.isArray(data)) throw new TypeError(`${op}: data must be a number, an array or a typed array`);
  const o = parseOptions(op, options, dtypeOfArray(data) ?? 'float32');
  let flat: ArrayLike<number> | BigInt64Array;
  let finalShape: number[];
  if (isTyped) {
    flat = data as unknown as ArrayLike<number> | BigInt64Array;
    finalShape = shape ? checkShapeArg(op, shape) : [flat.length];
  } else if (isNumber) {
    flat = [data as number];
    finalShape = shape ? checkShapeArg(op, shape) : [];
  } else {
    const inferred = inferShape(data as Nested);
    const values: number[] = [];
    flattenNested(op, data as Nested, inferred, 0, values);
    flat = values;
    finalShape = shape ? checkShapeArg(op, shape) : inferred;
  }
  const count = finalShape.reduce((a, b) => a * b, 1);
  if (count !== flat.length) throw new RangeError(`${op}: ${flat.length} values cannot fill shape [${finalShape}] (${count} elements)`);
  if (o.dtype !== 'int64' && flat instanceof BigInt64Array) throw new TypeError(`${op}: a BigInt64Array holds int64 values, not ${o.dtype}`);
  const handle = native.fromArray(transportFor(o.dtype, flat), finalShape, o.dtype, o.memoryFormat, o.device);
  return finish(wrap(handle), o.requiresGrad);
}

/** A tensor filled with one value. */
export function full(shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  const s = checkShapeArg('full', shape);
  checkNumber('full', 'value', value);
  const o = parseOptions('full', options, 'float32');
  let handle = native.full(s, value, o.dtype, o.device);
  if (o.memoryFormat !== 'contiguous') handle = replaced(handle, native.toFormat(handle, o.memoryFormat));
  return finish(wrap(handle), o.requiresGrad);
}

export function zeros(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 0, options);
}
export function ones(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 1, options);
}
export function zerosLike(t: Tensor, options?: CreateOptions): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, device: t.device, memoryFormat: t.memoryFormat, ...options });
}
export function onesLike(t: Tensor, options?: CreateOptions): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, device: t.device, memoryFormat: t.memoryFormat, ...options });
}

/** Disposes a handle that a conversion replaced, returning the replacement. */
function replaced(previous: NativeTensor, next: NativeTensor): NativeTensor {
  previous.dispose();
  return next;
}

function random(op: string, shape: readonly number[], options: CreateOptions | undefined,
  make: (s: number[], seed: bigint, device: Device) => NativeTensor): Tensor {
  const s = checkShapeArg(op, shape);
  const o = parseOptions(op, options, 'float32');
  if (!FLOAT_DTYPES.includes(o.dtype)) throw new TypeError(`${op}: dtype must be a floating-point type, got ${o.dtype}`);
  let handle = make(s, nextSeed(), o.device);
  if (o.dtype !== 'float32') handle = replaced(handle, native.cast(handle, o.dtype));
  if (o.memoryFormat !== 'contiguous') handle = replaced(handle, native.toFormat(handle, o.memoryFormat));
  return finish(wrap(handle), o.requiresGrad);
}

/** Uniform samples in [0, 1) from the seedable generator (rn.manualSeed). */
export function rand(shape: readonly number[], options?: CreateOptions): Tensor {
  return random('rand', shape, options, (s, seed, device) => native.randomUniform(s, seed, 0, 1, device));
}

/** Standard normal samples from the seedable generator (rn.manualSeed). */
export function randn(shape: readonly number[], options?: CreateOptions): Tensor {
  return random('randn', shape, options, (s, seed, device) => native.randomNormal(s, seed, 0, 1, device));
}

/**
 * Values start, start + step, ... below end (PyTorch's arange). int64 when every argument is an
 * integer, float32 otherwise, unless options.dtype says.
 */
export function arange(start: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  checkNumber('arange', 'start', start);
  checkNumber('arange', 'end', end);
  checkNumber('arange', 'step', step);
  if (step === 0) throw new RangeError('arange: step must not be zero');
  const count = Math.max(0, Math.ceil((end - start) / step));
  const integral = [start, end, step].every(Number.isInteger);
  const values = Array.from({ length: count }, (_, i) => start + i * step);
  return tensor(values, [count], { dtype: integral ? 'int64' : 'float32', ...options });
}
