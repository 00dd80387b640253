// Exact conversions between float32 and the 16-bit float formats: IEEE float16 (half) and
// bfloat16. Decoding is exact; encoding rounds to nearest, ties to even, so it is exact for
// every float32 that came from the 16-bit format.

let halfTable: Float32Array | undefined;

/** The float value of every half bit pattern, computed once on first use. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = halfBitsToNumber(bits);
  halfTable = table;
  return table;
}

/** The value of one half bit pattern: subnormals, signed zeros, infinities and NaN included. */
export function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/** Half bit patterns to float32 values. */
export function halfBitsToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** The half bit pattern nearest to a float32 bit pattern (ties to even; NaN stays a quiet NaN). */
function float32BitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 112;
  if (halfExponent >= 31) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const truncated = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (truncated & 1) === 1);
    return sign | (truncated + (roundUp ? 1 : 0));
  }
  const truncated = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (truncated & 1) === 1);
  return sign | (truncated + (roundUp ? 1 : 0));
}

/** float32 values to half bit patterns, rounding to nearest even (overflow becomes infinity). */
export function float32ToHalfBits(values: Float32Array): Uint16Array {
  const inputBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToHalfBits(inputBits[i]!);
  return out;
}

/** bfloat16 bit patterns to float32 values (the bits are the top half of a float32). */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** float32 values to bfloat16 bit patterns, rounding to nearest even (NaN stays a quiet NaN). */
export function float32ToBfloat16Bits(values: Float32Array): Uint16Array {
  const inputBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = inputBits[i]!;
    const isNaN = (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0;
    out[i] = isNaN ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
