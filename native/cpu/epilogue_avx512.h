// The epilogue (epilogue.h) on one tile of C just written by an AVX-512 GEMM micro-kernel, in
// 16-float vectors: + bias, + z, ReLU keeping NaN, in that order (the order applyEpilogue uses, so
// the same bits). The bfloat16 GEMM (gemm_bf16.cc) passes roundOperands: bias and z are rounded to
// bfloat16 as it reads them, and roundOutput rounds the result last.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "../core/cpu_targets.h"
#include "bf16_vec.h"
#include "epilogue.h"

namespace cr {

template <bool round>
CR_TARGET_AVX512 inline __m512 epilogueOperand(__m512 v) {
  if constexpr (round) return bf16::rounded(v);
  else return v;
}

// C (mr, nr) at rows i0.., columns j0.. of the product; C's row stride ldc; nr <= 32.
template <bool roundOperands>
CR_TARGET_AVX512 inline void epilogueTileAvx512(const Epilogue& e, float* C, int64_t ldc, int64_t i0, int64_t j0,
                                                int mr, int nr, bool roundOutput = false) {
  const __mmask16 masks[2] = {bf16::firstLanes(nr), bf16::firstLanes(nr - 16)};
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < mr; ++i) {
    float* row = C + (i0 + i) * ldc + j0;
    const float* z = e.z ? e.z + (i0 + i) * e.ldz + j0 : nullptr;
    for (int h = 0; h < 2; ++h) {
      const __mmask16 m = masks[h];
      if (!m) continue;
      __m512 v = _mm512_maskz_loadu_ps(m, row + 16 * h);
      if (e.bias) v = _mm512_add_ps(v, epilogueOperand<roundOperands>(_mm512_set1_ps(e.bias[i0 + i])));
      if (z) v = _mm512_add_ps(v, epilogueOperand<roundOperands>(_mm512_maskz_loadu_ps(m, z + 16 * h)));
      // relu keeping NaN: 0 where v <= 0 (ordered compare: false for NaN)
      if (e.relu) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LE_OQ), v, zero);
      if (roundOutput) v = bf16::rounded(v);
      _mm512_mask_storeu_ps(row + 16 * h, m, v);
    }
  }
}

}  // namespace cr
#endif
