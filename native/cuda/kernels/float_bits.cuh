// Bit-exact twins of the CPU conversions, usable on host and device: float <-> float16 and
// float <-> bfloat16 exactly as native/core/dtype.{h,cc} (round to nearest even, the same NaN
// bits), and float -> integer as the CPU build's static_cast does it.
#pragma once
#include <cstdint>
#include <cstring>

#include <cuda_runtime.h>

namespace cr::cuda {

__host__ __device__ inline uint32_t floatBits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

__host__ __device__ inline float floatFromBits(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// cr::floatToHalf
__host__ __device__ inline uint16_t halfBitsOf(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | (absx > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflows to inf after rounding
  if (absx < 0x38800000u) {                                                // subnormal half or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    int shift = 126 - static_cast<int>(absx >> 23);  // 14 .. 24
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t h = ((absx >> 13) - (112u << 10));
  uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

// cr::halfToFloat
__host__ __device__ inline float floatOfHalfBits(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t out;
  if (exp == 0) {
    if (mant == 0) {
      out = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      out = sign | ((127u - 15u - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    out = sign | 0x7f800000u | (mant << 13);
  } else {
    out = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  return floatFromBits(out);
}

// cr::floatToBFloat16
__host__ __device__ inline uint16_t bfloat16BitsOf(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// cr::bfloat16ToFloat
__host__ __device__ inline float floatOfBFloat16Bits(uint16_t b) { return floatFromBits(static_cast<uint32_t>(b) << 16); }

// static_cast<int32_t / int64_t / uint8_t>(float) as the CPU build computes it. In range it
// truncates toward zero. Out of range and NaN are undefined in C++; on x86-64 (x86 = true) the
// conversion instruction gives the most negative integer (and uint8 takes the low byte of the
// 32-bit result); elsewhere (AArch64) it saturates and NaN gives 0.
__host__ __device__ inline int32_t int32OfFloat(float v, bool x86) {
  if (v >= -2147483648.f && v < 2147483648.f) return static_cast<int32_t>(v);
  if (x86 || v < 0) return INT32_MIN;
  return v > 0 ? INT32_MAX : 0;  // v > 0: +overflow; otherwise NaN
}

__host__ __device__ inline int64_t int64OfFloat(float v, bool x86) {
  if (v >= -9223372036854775808.f && v < 9223372036854775808.f) return static_cast<int64_t>(v);
  if (x86 || v < 0) return INT64_MIN;
  return v > 0 ? INT64_MAX : 0;
}

__host__ __device__ inline uint8_t uint8OfFloat(float v, bool x86) {
  return static_cast<uint8_t>(static_cast<uint32_t>(int32OfFloat(v, x86)));
}

// Whether the CPU build runs on x86 (decided in host code, passed to the kernels).
constexpr bool hostIsX86() {
#if defined(__x86_64__) || defined(__i386__)
  return true;
#else
  return false;
#endif
}

}  // namespace cr::cuda
