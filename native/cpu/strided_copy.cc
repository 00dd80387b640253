#include "strided_copy.h"

#include <algorithm>
#include <cstring>

#include "../core/cpu_features.h"
#include "../core/cpu_targets.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cr {
namespace {

void copyStridedPortable(const float* in, int64_t stride, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i * stride];
}

#if defined(__x86_64__)
// 16 outputs from the 31 floats in[2i .. 2i + 30], loaded under masks so that nothing past the last
// float read is touched.
CR_TARGET_AVX512 void copyStride2Avx512(const float* in,
                                                                                               float* out, int64_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t count = std::min<int64_t>(16, n - i), floats = 2 * count - 1;  // floats read: in[2i .. 2i + floats)
    const __mmask16 lo = floats >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << floats) - 1);
    const __mmask16 hi = floats > 16 ? __mmask16((1u << (floats - 16)) - 1) : __mmask16(0);
    const __m512 a = _mm512_maskz_loadu_ps(lo, in + 2 * i), b = _mm512_maskz_loadu_ps(hi, in + 2 * i + 16);
    const __mmask16 store = count == 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1);
    _mm512_mask_storeu_ps(out + i, store, _mm512_permutex2var_ps(a, even, b));
  }
}

// 8 outputs from in[2i .. 2i + 15] while those 16 floats lie inside the row, the rest one by one.
CR_TARGET_AVX2 void copyStride2Avx2(const float* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 9 <= n; i += 8) {  // reads up to in[2i + 15] <= in[2(n - 1) - 1]
    const __m256 a = _mm256_loadu_ps(in + 2 * i), b = _mm256_loadu_ps(in + 2 * i + 8);
    // [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit lanes in order 0, 2, 1, 3
    const __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    _mm256_storeu_ps(out + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  for (; i < n; ++i) out[i] = in[2 * i];
}
#endif

}  // namespace

void copyStrided(const float* in, int64_t stride, float* out, int64_t n) {
#if defined(__x86_64__)
  if (stride == 2) {
    const CpuIsa isa = cpuIsa();
    if (isa == CpuIsa::Avx512) return copyStride2Avx512(in, out, n);
    if (isa == CpuIsa::Avx2) return copyStride2Avx2(in, out, n);
  }
#endif
  copyStridedPortable(in, stride, out, n);
}

void copyStridedRows(const float* in, int64_t stride, int64_t inRowStride, float* out, int64_t outRowStride,
                     int64_t n, int64_t rows) {
  if (stride == 1) {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out + r * outRowStride, in + r * inRowStride, static_cast<size_t>(n) * sizeof(float));
    return;
  }
#if defined(__x86_64__)
  if (stride == 2) {
    const CpuIsa isa = cpuIsa();
    if (isa == CpuIsa::Avx512) {
      for (int64_t r = 0; r < rows; ++r) copyStride2Avx512(in + r * inRowStride, out + r * outRowStride, n);
      return;
    }
    if (isa == CpuIsa::Avx2) {
      for (int64_t r = 0; r < rows; ++r) copyStride2Avx2(in + r * inRowStride, out + r * outRowStride, n);
      return;
    }
  }
#endif
  for (int64_t r = 0; r < rows; ++r) copyStridedPortable(in + r * inRowStride, stride, out + r * outRowStride, n);
}

}  // namespace cr
