// Deterministic memory: scopes that free what they did not return, a FinalizationRegistry as
// the safety net, and the public counters.
import { native, type NativeMemory, type NativeTensor } from './binding.js';
import type { Tensor } from './tensor.js';

type Tracked = Set<Tensor>;
const scopes: Tracked[] = [];
let untrackedDepth = 0;

/** Called by every Tensor constructor: the innermost scope owns the new tensor. */
export function track(t: Tensor): void {
  if (untrackedDepth === 0 && scopes.length > 0) scopes[scopes.length - 1]!.add(t);
}

/** Removes a tensor from the scope that owns it (it then lives until disposed by hand). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Runs fn with new tensors owned by nobody (used for gradients and optimizer state). */
export function untracked<R>(fn: () => R): R {
  untrackedDepth++;
  try {
    return fn();
  } finally {
    untrackedDepth--;
  }
}

function collectTensors(value: unknown, out: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, isTensor, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, isTensor, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, isTensor, depth + 1);
  }
}

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
/** Set by tensor.ts (avoids an import cycle at module load). */
export function setTensorCheck(fn: (v: unknown) => v is Tensor): void {
  isTensorFn = fn;
}

/**
 * Runs fn; every tensor created inside and not reachable from its result (a tensor, or arrays,
 * Maps and plain objects holding tensors) is disposed when fn returns or throws. Returned
 * tensors move to the enclosing scope. fn must be synchronous.
 */
export function scope<R>(fn: () => R): R {
  const owned: Tracked = new Set();
  scopes.push(owned);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of owned) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of owned) t.dispose();
    throw new TypeError('scope(fn): fn must be synchronous (it returned a Promise); await outside the scope instead');
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept, isTensorFn);
  const parent = scopes[scopes.length - 1];
  for (const t of owned) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes the native handle of a tensor that was garbage-collected without dispose(). */
export const finalizer = new FinalizationRegistry<{ handle: NativeTensor; release: () => void }>((held) => {
  held.release();
  held.handle.dispose();
});

export type MemoryInfo = NativeMemory;

export function memory(): MemoryInfo {
  return native.memory();
}

/** Returns the CPU allocator's cached blocks to the operating system. */
export function emptyCache(): void {
  native.emptyCache();
}
