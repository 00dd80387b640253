// Argument checks shared by the ops. Each throws a TypeError or RangeError whose message says
// which op, which argument, what was expected and what came, before anything reaches C++.
import type { DeviceName } from '../binding.js';
import { cudaUsability } from '../backends.js';
import { Tensor, type DType } from '../tensor.js';

export function checkTensor(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) {
    const got = t === null ? 'null' : Array.isArray(t) ? 'an array' : typeof t;
    throw new TypeError(`${op}: ${name} must be a Tensor, got ${got}`);
  }
  if (t.disposed) throw new TypeError(`${op}: ${name} (shape [${t.shape}]) was disposed`);
  return t;
}

export function checkFloat32(op: string, name: string, t: unknown): Tensor {
  const tensor = checkTensor(op, name, t);
  if (tensor.dtype !== 'float32') {
    throw new TypeError(`${op}: ${name} must be float32, got ${tensor.dtype} (convert with .to({ dtype: 'float32' }))`);
  }
  return tensor;
}

export function checkRank(op: string, name: string, t: Tensor, ranks: number | number[]): void {
  const allowed = Array.isArray(ranks) ? ranks : [ranks];
  if (!allowed.includes(t.ndim)) {
    throw new RangeError(`${op}: ${name} must be ${allowed.map((r) => `${r}-D`).join(' or ')}, got shape [${t.shape}]`);
  }
}

export function checkShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new RangeError(`${op}: ${name} must have shape [${shape}], got [${t.shape}]`);
  }
}

/** 'cpu' or 'cuda'; for 'cuda', CUDA must be usable here (else an Error with the reason). */
export function checkDevice(op: string, device: unknown): DeviceName {
  if (device !== 'cpu' && device !== 'cuda') throw new TypeError(`${op}: device must be 'cpu' or 'cuda', got ${String(device)}`);
  if (device === 'cuda') {
    const cuda = cudaUsability();
    if (!cuda.available) throw new Error(`${op}: CUDA is unavailable here: ${cuda.reason}`);
  }
  return device;
}

export function checkSameDevice(op: string, tensors: (Tensor | undefined | null)[]): void {
  const present = tensors.filter((t): t is Tensor => !!t);
  const first = present[0];
  for (const t of present) {
    if (first && t.device !== first.device) {
      throw new TypeError(`${op}: all tensors must be on one device, got ${first.device} and ${t.device}`);
    }
  }
}

export function checkInt(op: string, name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: ${name} must be an integer, got ${String(v)}`);
  if (v < min) throw new RangeError(`${op}: ${name} must be at least ${min}, got ${v}`);
  return v;
}

export function checkNumber(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${op}: ${name} must be a number, got ${String(v)}`);
  return v;
}

/** A number or a [h, w] pair, each an integer >= min. */
export function checkPair(op: string, name: string, v: unknown, min: number): [number, number] {
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new TypeError(`${op}: ${name} must be a number or a [h, w] pair, got an array of ${v.length}`);
    return [checkInt(op, name, v[0], min), checkInt(op, name, v[1], min)];
  }
  const n = checkInt(op, name, v, min);
  return [n, n];
}

export function checkDType(op: string, name: string, v: unknown, allowed: readonly DType[]): DType {
  if (typeof v !== 'string' || !allowed.includes(v as DType)) {
    throw new TypeError(`${op}: ${name} must be one of ${allowed.join(', ')}, got ${String(v)}`);
  }
  return v as DType;
}

/** Checks that `options` is undefined or a plain object whose keys are all known. */
export function checkOptions(op: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${op}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${op}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
  return options as Record<string, unknown>;
}
