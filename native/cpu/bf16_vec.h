// AVX-512 helpers of the bfloat16 kernels (gemm_bf16.cc, winograd_bf16.cc): rounding float32 to
// bfloat16 bit for bit as the cast op does (floatToBFloat16, float_bits.h), and packing the results
// in pairs, one 32-bit word per two values (the operand format of vdpbf16ps). They use no
// bfloat16 instruction and carry the CR_TARGET_AVX512 target (AVX-512 F/BW/DQ/VL), so that both the
// CR_TARGET_AVX512_BF16 kernels and the AVX-512 transforms (winograd_avx512.cc) inline them. The masked (maskz)
// forms of shifts, conversions and inserts are used because GCC 12's unmasked ones read an
// undefined vector and warn.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "../core/cpu_targets.h"


namespace cr {
namespace bf16 {

// The bits u of 16 floats rounded to bfloat16 (low 16 bits zero): to nearest even, NaN kept and made quiet.
CR_TARGET_AVX512 inline __m512i roundedBits(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_maskz_srli_epi32(0xFFFF, u, 16), _mm512_set1_epi32(1));
  const __m512i sum = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i out = _mm512_mask_or_epi32(sum, nan, u, _mm512_set1_epi32(0x00400000));
  return _mm512_and_si512(out, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
}
CR_TARGET_AVX512 inline __m512 rounded(__m512 v) { return _mm512_castsi512_ps(roundedBits(_mm512_castps_si512(v))); }

// roundedBits on 8 floats.
CR_TARGET_AVX512 inline __m256i roundedBits(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i sum = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
  const __mmask8 nan = _mm256_cmpgt_epu32_mask(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                               _mm256_set1_epi32(0x7f800000));
  const __m256i out = _mm256_mask_or_epi32(sum, nan, u, _mm256_set1_epi32(0x00400000));
  return _mm256_and_si256(out, _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
}

// The first n of 16 lanes (none for n <= 0).
CR_TARGET_AVX512 inline __mmask16 firstLanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 16 floats at p, those outside m read as zero. A full mask takes a plain load: a masked load
// does not take its data from a store still in flight (data the transforms have just written) and
// waits for it to reach the cache.
CR_TARGET_AVX512 inline __m512 load16(__mmask16 m, const float* p) {
  return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

// Words pairing lo's and hi's rounded values: bfloat16(lo[i]) in the low half, bfloat16(hi[i]) in the high.
CR_TARGET_AVX512 inline __m512i pairLanes(__m512 lo, __m512 hi) {
  return _mm512_or_si512(_mm512_maskz_srli_epi32(0xFFFF, roundedBits(_mm512_castps_si512(lo)), 16),
                         roundedBits(_mm512_castps_si512(hi)));
}

// The n (<= 32) consecutive floats at src rounded and paired neighbour with neighbour (an odd n
// pairs the last with zero) into ceil(n / 2) words at dst.
CR_TARGET_AVX512 inline void pairNeighbours(const float* src, int64_t n, float* dst) {
  const __m512i lo =
      _mm512_maskz_srli_epi32(0xFFFF, roundedBits(_mm512_castps_si512(load16(firstLanes(n), src))), 16);
  const __m512i hi =
      _mm512_maskz_srli_epi32(0xFFFF, roundedBits(_mm512_castps_si512(load16(firstLanes(n - 16), src + 16))), 16);
  const __m512i words = _mm512_maskz_inserti64x4(0xFF, _mm512_castsi256_si512(_mm512_maskz_cvtepi32_epi16(0xFFFF, lo)),
                                                 _mm512_maskz_cvtepi32_epi16(0xFFFF, hi), 1);
  _mm512_mask_storeu_epi32(dst, firstLanes((n + 1) / 2), words);
}

}  // namespace bf16
}  // namespace cr
#endif
