// The bfloat16 product stage of Winograd F(2x2, 3x3): see winograd_bf16.h.
#include "winograd_bf16.h"

#include <algorithm>

#include "../core/float_bits.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cr {
namespace winograd {

namespace {

// The bits of a pair: bfloat16(lo) in the low half, bfloat16(hi) in the high half.
float pairOf(float lo, float hi) {
  const uint32_t bits = static_cast<uint32_t>(floatToBFloat16(lo)) | (static_cast<uint32_t>(floatToBFloat16(hi)) << 16);
  return floatFromBits(bits);
}

}  // namespace

std::vector<float> pairWeights(const std::vector<float>& U, int64_t blocks, int64_t inC) {
  const int64_t pairs = (inC + 1) / 2;
  std::vector<float> Up(static_cast<size_t>(16 * blocks * pairs * 4));
  for (int64_t xb = 0; xb < 16 * blocks; ++xb)  // (xi, o / 4)
    for (int64_t p = 0; p < pairs; ++p)
      for (int r = 0; r < 4; ++r) {
        const float lo = U[static_cast<size_t>((xb * inC + 2 * p) * 4 + r)];
        const float hi = 2 * p + 1 < inC ? U[static_cast<size_t>((xb * inC + 2 * p + 1) * 4 + r)] : 0.0f;
        Up[static_cast<size_t>((xb * pairs + p) * 4 + r)] = pairOf(lo, hi);
      }
  return Up;
}

float* pairScratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

#if defined(__x86_64__)
#define CR_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")))

namespace {

// v rounded to bfloat16 as floatToBFloat16 rounds (nearest even, NaN kept quiet), in the high halves.
CR_BF16 inline __m512i roundedBits(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i sum = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i out = _mm512_mask_or_epi32(sum, nan, u, _mm512_set1_epi32(0x00400000));
  return _mm512_and_si512(out, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
}

}  // namespace

CR_BF16 void pairTiles(const float* V, int64_t channels, int64_t cols, int64_t ld, float* Vp) {
  const int64_t pairs = (channels + 1) / 2;
  for (int xi = 0; xi < 16; ++xi)
    for (int64_t p = 0; p < pairs; ++p) {
      const float* s0 = V + (xi * channels + 2 * p) * ld;                    // (cols)
      const float* s1 = 2 * p + 1 < channels ? s0 + ld : nullptr;            // (cols)
      float* d = Vp + (xi * pairs + p) * ld;                                 // (cols)
      for (int64_t j = 0; j < cols; j += 16) {
        const __mmask16 m = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
        const __m512i lo = _mm512_srli_epi32(roundedBits(_mm512_maskz_loadu_epi32(m, s0 + j)), 16);
        const __m512i hi = s1 ? roundedBits(_mm512_maskz_loadu_epi32(m, s1 + j)) : _mm512_setzero_si512();
        _mm512_mask_storeu_epi32(d + j, m, _mm512_or_si512(lo, hi));
      }
    }
}

// kernel4x24Avx512 (winograd.cc) with vdpbf16ps: a pair of channels per step, each row of the
// tile one zmm (16 tiles) and one ymm (8).
CR_BF16 void kernel4x24Bf16(int64_t pairs, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                            int64_t rows, bool accumulate) {
  __m512 w0 = _mm512_setzero_ps(), w1 = _mm512_setzero_ps(), w2 = _mm512_setzero_ps(), w3 = _mm512_setzero_ps();
  __m256 n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps(), n2 = _mm256_setzero_ps(), n3 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < pairs; ++k, a += 4, b += ldb) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_ps(b);
    const __m256bh b1 = (__m256bh)_mm256_loadu_ps(b + 16);
    w0 = _mm512_dpbf16_ps(w0, (__m512bh)_mm512_set1_ps(a[0]), b0);
    n0 = _mm256_dpbf16_ps(n0, (__m256bh)_mm256_set1_ps(a[0]), b1);
    w1 = _mm512_dpbf16_ps(w1, (__m512bh)_mm512_set1_ps(a[1]), b0);
    n1 = _mm256_dpbf16_ps(n1, (__m256bh)_mm256_set1_ps(a[1]), b1);
    w2 = _mm512_dpbf16_ps(w2, (__m512bh)_mm512_set1_ps(a[2]), b0);
    n2 = _mm256_dpbf16_ps(n2, (__m256bh)_mm256_set1_ps(a[2]), b1);
    w3 = _mm512_dpbf16_ps(w3, (__m512bh)_mm512_set1_ps(a[3]), b0);
    n3 = _mm256_dpbf16_ps(n3, (__m256bh)_mm256_set1_ps(a[3]), b1);
  }
  const __m512 wide[4] = {w0, w1, w2, w3};
  const __m256 narrow[4] = {n0, n1, n2, n3};
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    __m512 v = wide[i];
    __m256 u = narrow[i];
    if (accumulate) {
      v = _mm512_add_ps(v, _mm512_loadu_ps(row));
      u = _mm256_add_ps(u, _mm256_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, v);
    _mm256_storeu_ps(row + 16, u);
  }
}

#else

void pairTiles(const float*, int64_t, int64_t, int64_t, float*) {}
void kernel4x24Bf16(int64_t, const float*, const float*, int64_t, float*, int64_t, int64_t, bool) {}

#endif

}  // namespace winograd
}  // namespace cr
