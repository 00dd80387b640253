// Mixed precision: inside rn.autocast({ dtype }, fn), conv2d, linear and matmul compute in
// bfloat16 or float16 (tensor cores on the GPU) while everything else — batch norm and its
// statistics, the loss, the weights and their float32 master copies — stays float32. The ops
// take float32 in and give float32 out, so a model needs no change:
//   GPU: the inputs are cast to the low dtype, cuDNN / cuBLAS compute in it (accumulating in
//        float32), and the result is cast back to float32;
//   CPU, bfloat16, AVX-512 BF16 (rn.backends().cpu.bf16 === 'avx512-bf16'): the native op rounds
//        its inputs to bfloat16 as it reads them, sums bfloat16 products in float32 (vdpbf16ps)
//        and rounds its result; its backward rounds dy and the gradients the same way;
//   CPU otherwise: the path is emulated: inputs and result are rounded to the low dtype by
//        recorded casts and the product is computed in float32.
// Both CPU forms round at the same points as the GPU, so they agree up to the order of float32 sums.
import type { Tensor } from '../tensor.js';
import { native } from '../binding.js';
import { cast } from '../ops/cast.js';
import { autocastDType, popAutocast, pushAutocast, type LowPrecision } from './state.js';
import { checkOptions } from '../ops/validate.js';

export type { LowPrecision } from './state.js';

export interface AutocastOptions {
  /** 'bfloat16' (default: no loss scaling needed) or 'float16' (pair it with a GradScaler). */
  dtype?: LowPrecision;
  /** false runs fn in float32 (handy to switch mixed precision with a flag). */
  enabled?: boolean;
}

/** Runs fn with conv2d / linear / matmul in low precision; returns what fn returns. Scopes nest. */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const o = checkOptions('autocast', options, ['dtype', 'enabled']);
  const dtype = o.dtype ?? 'bfloat16';
  if (dtype !== 'bfloat16' && dtype !== 'float16') throw new TypeError(`autocast: dtype must be 'bfloat16' or 'float16', got ${String(dtype)}`);
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') throw new TypeError('autocast: enabled must be a boolean');
  if (typeof fn !== 'function') throw new TypeError('autocast: the second argument must be a function');
  pushAutocast(o.enabled === false ? null : (dtype as LowPrecision));
  try {
    return fn();
  } finally {
    popAutocast();
  }
}

/** The dtype autocast computes in here, or null. */
export function autocastDtype(): LowPrecision | null {
  return autocastDType();
}

/** Rounds a float32 tensor to `dtype` precision, staying float32 (two recorded casts). */
function rounded(t: Tensor, dtype: LowPrecision): Tensor {
  const low = cast(t, dtype);
  const back = cast(low, 'float32');
  low.dispose();
  return back;
}

/**
 * @internal An op input as autocast hands it to the op: cast to `dtype` on the GPU, rounded to it
 * (staying float32) on the CPU. Recorded, so gradients flow through it.
 */
export function lowerForAutocast(t: Tensor, dtype: LowPrecision): Tensor {
  return t.device === 'cuda' ? cast(t, dtype) : rounded(t, dtype);
}

/** @internal An op output back to float32 from `dtype` (on the CPU: rounded to it). Recorded. */
export function raiseFromAutocast(t: Tensor, dtype: LowPrecision): Tensor {
  return t.device === 'cuda' ? cast(t, 'float32') : rounded(t, dtype);
}

/** @internal Whether an autocast op on these inputs runs the native bfloat16 CPU kernels. */
export function nativeBf16(inputs: readonly (Tensor | null)[], dtype: LowPrecision | null): boolean {
  return dtype === 'bfloat16' && inputs.every((t) => t === null || t.device === 'cpu') && native.cpuBf16Native();
}

/**
 * @internal The autocast wrapper of a float32 op: `compute` receives the inputs as the op should
 * see them (low dtype on the GPU, rounded float32 on the CPU) and the result comes back float32.
 * Under bfloat16 on a CPU with native bfloat16 compute (nativeBf16), `computeBf16` gets the
 * inputs as they are and its result is returned. The inputs are on one device (the ops check
 * that first). Outside autocast it is compute(inputs).
 */
export function autocastOp(inputs: readonly (Tensor | null)[], compute: (inputs: (Tensor | null)[]) => Tensor,
  computeBf16?: (inputs: (Tensor | null)[]) => Tensor): Tensor {
  const dtype = autocastDType();
  if (dtype === null) return compute([...inputs]);
  if (computeBf16 && nativeBf16(inputs, dtype)) return computeBf16([...inputs]);
  const lowered = inputs.map((t) => (t === null ? null : lowerForAutocast(t, dtype)));
  let out: Tensor;
  try {
    out = compute(lowered);
  } finally {
    for (const t of lowered) t?.dispose();
  }
  const result = raiseFromAutocast(out, dtype);
  out.dispose();
  return result;
}
