// float -> integer conversions on host and device exactly as the CPU build's static_cast does
// them (float16 / bfloat16 conversions, shared with the CPU, are in native/core/float_bits.h).
#pragma once
#include <cstdint>
#include <cstring>

#include <cuda_runtime.h>

#include "../../core/float_bits.h"

namespace cr::cuda {

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
