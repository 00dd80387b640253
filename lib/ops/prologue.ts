// The native-handle pieces of convBnStats (lib/ops/conv_bn_stats.ts) built from existing ops: its
// per-channel prologue z = relu(x * scale + bias), and the whole op as a composition (what runs where
// the device has no fused kernel for a call). The forward uses them directly; the backward rule
// (ops/grad.ts) recomputes z with them rather than keeping it. Every function returns new handles
// that the caller owns and leaves its arguments alone.
import { BINARY, native, type ConvParams, type DType, type MemoryFormat, type NativeTensor } from '../binding.js';

export interface Prologue {
  /** (C) float32 or null */
  scale: NativeTensor | null;
  /** (C) float32 or null */
  bias: NativeTensor | null;
  relu: boolean;
}

export const hasPrologue = (p: Prologue): boolean => p.scale !== null || p.bias !== null || p.relu;

/** t as float32 (an alias when it already is). */
export function float32Of(t: NativeTensor): NativeTensor {
  return t.dtype === 'float32' ? t.alias() : native.cast(t, 'float32');
}

/** t32 (float32) as `dtype` (an alias when that is float32). */
export function asDType(t32: NativeTensor, dtype: DType): NativeTensor {
  return dtype === 'float32' ? t32.alias() : native.cast(t32, dtype);
}

/** a + v or a * v per channel, v (C) broadcast as (1, C, 1, 1). */
function perChannel(op: typeof BINARY.add | typeof BINARY.mul, a: NativeTensor, v: NativeTensor): NativeTensor {
  const view = native.view(v, [1, v.shape[0]!, 1, 1]);
  const out = native.binary(op, a, view);
  view.dispose();
  return out;
}

/** z = x32 * scale + bias, then max(0, z) when relu: float32 (N, C, H, W) in x32's memory format. */
export function applyPrologue(x32: NativeTensor, p: Prologue): NativeTensor {
  let z = x32.alias();
  const step = (next: NativeTensor) => {
    z.dispose();
    z = next;
  };
  if (p.scale) step(perChannel(BINARY.mul, z, p.scale));
  if (p.bias) step(perChannel(BINARY.add, z, p.bias));
  if (p.relu) step(native.relu(z));
  if (z.format !== x32.format) step(native.toFormat(z, x32.format));  // broadcasting gives contiguous results
  return z;
}

/** dx = dz * scale per channel (a copy of dz without a scale), in `format`. */
export function unscalePrologue(dz32: NativeTensor, scale: NativeTensor | null, format: MemoryFormat): NativeTensor {
  const dx = scale ? perChannel(BINARY.mul, dz32, scale) : dz32.alias();
  if (dx.format === format) return dx;
  const converted = native.toFormat(dx, format);
  dx.dispose();
  return converted;
}

/** The convolution's input: the prologue of x (computed in float32) in x's dtype and memory format. */
export function prologueOf(x: NativeTensor, p: Prologue): NativeTensor {
  if (!hasPrologue(p)) return x.alias();
  const x32 = float32Of(x);
  const z32 = applyPrologue(x32, p);
  const z = asDType(z32, x.dtype);
  x32.dispose();
  z32.dispose();
  return z;
}

/** [y, sum, sqSum] as convBnStats gives them, composed: prologue, conv2d, sums of y and y² over (N, H, W). */
export function composeConvBnStats(
  x: NativeTensor, weight: NativeTensor, p: Prologue, params: ConvParams,
): [NativeTensor, NativeTensor, NativeTensor] {
  const z = prologueOf(x, p);
  const y = native.conv2d(z, weight, null, params);
  z.dispose();
  const y32 = float32Of(y);
  const squares = native.binary(BINARY.mul, y32, y32);
  const sum = native.sum(y32, [0, 2, 3], false);
  const sqSum = native.sum(squares, [0, 2, 3], false);
  y32.dispose();
  squares.dispose();
  return [y, sum, sqSum];
}
