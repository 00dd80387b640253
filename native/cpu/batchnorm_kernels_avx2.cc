// The AVX2 set of batch normalisation's hot loops (see batchnorm_kernels.h), compiled with a
// per-function target attribute and run only where cpuIsa() allows. It gives the portable set's bits:
// the double sums keep its eight lanes (two ymm) and its order, the float maps do its operations one
// by one, and contraction into fused multiply-adds is off in this file.
#include "batchnorm_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#pragma GCC optimize("fp-contract=off")

#define CR_BN_AVX2 __attribute__((target("avx2")))

namespace cr {
namespace {

CR_BN_AVX2 inline __m256d lowHalf(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
CR_BN_AVX2 inline __m256d highHalf(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

template <bool kRelu>
CR_BN_AVX2 inline __m256 grad8(const float* dy, const float* relu, int64_t i) {
  const __m256 g = _mm256_loadu_ps(dy + i);
  if constexpr (kRelu) return _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(relu + i), _mm256_setzero_ps(), _CMP_GT_OQ));
  return g;
}

CR_BN_AVX2 void runStatsAvx2(const float* __restrict x, int64_t len, double shift, double* __restrict s0,
                             double* __restrict s1) {
  __m256d a0Lo = _mm256_loadu_pd(s0), a0Hi = _mm256_loadu_pd(s0 + 4);
  __m256d a1Lo = _mm256_loadu_pd(s1), a1Hi = _mm256_loadu_pd(s1 + 4);
  const __m256d sh = _mm256_set1_pd(shift);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256d dLo = _mm256_sub_pd(lowHalf(xv), sh), dHi = _mm256_sub_pd(highHalf(xv), sh);
    a0Lo = _mm256_add_pd(a0Lo, dLo);
    a0Hi = _mm256_add_pd(a0Hi, dHi);
    a1Lo = _mm256_add_pd(a1Lo, _mm256_mul_pd(dLo, dLo));
    a1Hi = _mm256_add_pd(a1Hi, _mm256_mul_pd(dHi, dHi));
  }
  _mm256_storeu_pd(s0, a0Lo);
  _mm256_storeu_pd(s0 + 4, a0Hi);
  _mm256_storeu_pd(s1, a1Lo);
  _mm256_storeu_pd(s1 + 4, a1Hi);
  for (; i < len; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    s0[0] += d;
    s1[0] += d * d;
  }
}

// Rows in order, as the portable set, eight channels at a time (then four, then one); the sums stay in
// p0 / p1, which a row of C doubles keeps in the L1 cache.
// With few channels (C = 4 * kBlocks) the sums and constants stay in registers over the rows, which
// is faster than loading them again for every row; the order of every channel's sum is the same.
template <int kBlocks>
CR_BN_AVX2 void rowStatsHeld(const float* __restrict x, int64_t rows, const double* __restrict shift,
                             double* __restrict p0, double* __restrict p1) {
  constexpr int64_t C = 4 * kBlocks;
  __m256d a0[kBlocks], a1[kBlocks], sh[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    a0[b] = _mm256_loadu_pd(p0 + 4 * b);
    a1[b] = _mm256_loadu_pd(p1 + 4 * b);
    sh[b] = _mm256_loadu_pd(shift + 4 * b);
  }
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + row * C + 4 * b)), sh[b]);
      a0[b] = _mm256_add_pd(a0[b], d);
      a1[b] = _mm256_add_pd(a1[b], _mm256_mul_pd(d, d));
    }
  for (int b = 0; b < kBlocks; ++b) {
    _mm256_storeu_pd(p0 + 4 * b, a0[b]);
    _mm256_storeu_pd(p1 + 4 * b, a1[b]);
  }
}

CR_BN_AVX2 void rowStatsAvx2(const float* __restrict x, int64_t rows, int64_t C, const double* __restrict shift,
                             double* __restrict p0, double* __restrict p1) {
  switch (C) {
    case 8: return rowStatsHeld<2>(x, rows, shift, p0, p1);
    case 16: return rowStatsHeld<4>(x, rows, shift, p0, p1);
    default: break;
  }
  for (int64_t row = 0; row < rows; ++row) {
    const float* __restrict xs = x + row * C;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
      const __m256 xv = _mm256_loadu_ps(xs + c);
      const __m256d dLo = _mm256_sub_pd(lowHalf(xv), _mm256_loadu_pd(shift + c));
      const __m256d dHi = _mm256_sub_pd(highHalf(xv), _mm256_loadu_pd(shift + c + 4));
      _mm256_storeu_pd(p0 + c, _mm256_add_pd(_mm256_loadu_pd(p0 + c), dLo));
      _mm256_storeu_pd(p0 + c + 4, _mm256_add_pd(_mm256_loadu_pd(p0 + c + 4), dHi));
      _mm256_storeu_pd(p1 + c, _mm256_add_pd(_mm256_loadu_pd(p1 + c), _mm256_mul_pd(dLo, dLo)));
      _mm256_storeu_pd(p1 + c + 4, _mm256_add_pd(_mm256_loadu_pd(p1 + c + 4), _mm256_mul_pd(dHi, dHi)));
    }
    for (; c + 4 <= C; c += 4) {
      const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(xs + c)), _mm256_loadu_pd(shift + c));
      _mm256_storeu_pd(p0 + c, _mm256_add_pd(_mm256_loadu_pd(p0 + c), d));
      _mm256_storeu_pd(p1 + c, _mm256_add_pd(_mm256_loadu_pd(p1 + c), _mm256_mul_pd(d, d)));
    }
    for (; c < C; ++c) {
      const double d = static_cast<double>(xs[c]) - shift[c];
      p0[c] += d;
      p1[c] += d * d;
    }
  }
}

template <bool kRelu, bool kStore>
CR_BN_AVX2 void runSumsAvx2Of(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                              float* __restrict store, int64_t len, double mean, double* __restrict s0,
                              double* __restrict s1) {
  __m256d a0Lo = _mm256_loadu_pd(s0), a0Hi = _mm256_loadu_pd(s0 + 4);
  __m256d a1Lo = _mm256_loadu_pd(s1), a1Hi = _mm256_loadu_pd(s1 + 4);
  const __m256d mu = _mm256_set1_pd(mean);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 g = grad8<kRelu>(dy, relu, i);
    if constexpr (kStore) _mm256_storeu_ps(store + i, g);
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256d gLo = lowHalf(g), gHi = highHalf(g);
    a0Lo = _mm256_add_pd(a0Lo, gLo);
    a0Hi = _mm256_add_pd(a0Hi, gHi);
    a1Lo = _mm256_add_pd(a1Lo, _mm256_mul_pd(gLo, _mm256_sub_pd(lowHalf(xv), mu)));
    a1Hi = _mm256_add_pd(a1Hi, _mm256_mul_pd(gHi, _mm256_sub_pd(highHalf(xv), mu)));
  }
  _mm256_storeu_pd(s0, a0Lo);
  _mm256_storeu_pd(s0 + 4, a0Hi);
  _mm256_storeu_pd(s1, a1Lo);
  _mm256_storeu_pd(s1 + 4, a1Hi);
  for (; i < len; ++i) {
    const float g = gradOne(dy, relu, i);
    if constexpr (kStore) store[i] = g;
    s0[0] += static_cast<double>(g);
    s1[0] += static_cast<double>(g) * (static_cast<double>(x[i]) - mean);
  }
}

void runSumsAvx2(const float* dy, const float* relu, const float* x, float* store, int64_t len, double mean,
                 double* s0, double* s1) {
  if (relu == nullptr) runSumsAvx2Of<false, false>(dy, relu, x, store, len, mean, s0, s1);
  else if (store == nullptr) runSumsAvx2Of<true, false>(dy, relu, x, store, len, mean, s0, s1);
  else runSumsAvx2Of<true, true>(dy, relu, x, store, len, mean, s0, s1);
}

template <bool kRelu, bool kStore>
CR_BN_AVX2 void rowSumsAvx2Of(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                              float* __restrict store, int64_t rows, int64_t C, const double* __restrict mean,
                              double* __restrict p0, double* __restrict p1) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
      const int64_t at = start + c;
      const __m256 g = grad8<kRelu>(dy, relu, at);
      if constexpr (kStore) _mm256_storeu_ps(store + at, g);
      const __m256 xv = _mm256_loadu_ps(x + at);
      const __m256d gLo = lowHalf(g), gHi = highHalf(g);
      const __m256d dLo = _mm256_sub_pd(lowHalf(xv), _mm256_loadu_pd(mean + c));
      const __m256d dHi = _mm256_sub_pd(highHalf(xv), _mm256_loadu_pd(mean + c + 4));
      _mm256_storeu_pd(p0 + c, _mm256_add_pd(_mm256_loadu_pd(p0 + c), gLo));
      _mm256_storeu_pd(p0 + c + 4, _mm256_add_pd(_mm256_loadu_pd(p0 + c + 4), gHi));
      _mm256_storeu_pd(p1 + c, _mm256_add_pd(_mm256_loadu_pd(p1 + c), _mm256_mul_pd(gLo, dLo)));
      _mm256_storeu_pd(p1 + c + 4, _mm256_add_pd(_mm256_loadu_pd(p1 + c + 4), _mm256_mul_pd(gHi, dHi)));
    }
    for (; c < C; ++c) {
      const int64_t at = start + c;
      const float g = gradOne(dy, relu, at);
      if constexpr (kStore) store[at] = g;
      p0[c] += static_cast<double>(g);
      p1[c] += static_cast<double>(g) * (static_cast<double>(x[at]) - mean[c]);
    }
  }
}

void rowSumsAvx2(const float* dy, const float* relu, const float* x, float* store, int64_t rows, int64_t C,
                 const double* mean, double* p0, double* p1) {
  if (relu == nullptr) rowSumsAvx2Of<false, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else if (store == nullptr) rowSumsAvx2Of<true, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else rowSumsAvx2Of<true, true>(dy, relu, x, store, rows, C, mean, p0, p1);
}

// dx at elements i .. i + 8 from per-channel constants in registers.
template <bool kRelu>
CR_BN_AVX2 inline __m256 dx8(const float* dy, const float* relu, const float* x, int64_t i, __m256 mean,
                             __m256 meanGrad, __m256 xCoef, __m256 gain) {
  const __m256 centred = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mean), xCoef);
  return _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(grad8<kRelu>(dy, relu, i), meanGrad), centred), gain);
}

template <bool kRelu>
CR_BN_AVX2 void gradRunAvx2Of(const float* dy, const float* relu, const float* x, float* dx, int64_t len, float mean,
                              float meanGrad, float xCoef, float gain) {
  const __m256 mu = _mm256_set1_ps(mean), mg = _mm256_set1_ps(meanGrad), xc = _mm256_set1_ps(xCoef),
               ga = _mm256_set1_ps(gain);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) _mm256_storeu_ps(dx + i, dx8<kRelu>(dy, relu, x, i, mu, mg, xc, ga));
  for (; i < len; ++i) dx[i] = (gradOne(dy, relu, i) - meanGrad - (x[i] - mean) * xCoef) * gain;
}

void gradRunAvx2(const float* dy, const float* relu, const float* x, float* dx, int64_t len, float mean,
                 float meanGrad, float xCoef, float gain) {
  if (relu != nullptr) gradRunAvx2Of<true>(dy, relu, x, dx, len, mean, meanGrad, xCoef, gain);
  else gradRunAvx2Of<false>(dy, relu, x, dx, len, mean, meanGrad, xCoef, gain);
}

template <bool kRelu>
CR_BN_AVX2 void gradRowsAvx2Of(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
                               const float* mean, const float* meanGrad, const float* xCoef, const float* gain) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8)
      _mm256_storeu_ps(dx + start + c,
                       dx8<kRelu>(dy, relu, x, start + c, _mm256_loadu_ps(mean + c), _mm256_loadu_ps(meanGrad + c),
                                  _mm256_loadu_ps(xCoef + c), _mm256_loadu_ps(gain + c)));
    for (; c < C; ++c)
      dx[start + c] = (gradOne(dy, relu, start + c) - meanGrad[c] - (x[start + c] - mean[c]) * xCoef[c]) * gain[c];
  }
}

void gradRowsAvx2(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
                  const float* mean, const float* meanGrad, const float* xCoef, const float* gain) {
  if (relu != nullptr) gradRowsAvx2Of<true>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
  else gradRowsAvx2Of<false>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
}

// y at elements i .. i + 8; max(0, v) returns v when v is NaN, as v < 0 ? 0 : v does.
template <bool kResidual, bool kRelu>
CR_BN_AVX2 inline __m256 y8(const float* x, const float* residual, int64_t i, __m256 mean, __m256 scale, __m256 shift) {
  __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mean), scale), shift);
  if constexpr (kResidual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + i));
  if constexpr (kRelu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  return v;
}

template <bool kResidual, bool kRelu>
CR_BN_AVX2 void normaliseRunAvx2Of(const float* x, const float* residual, float* y, int64_t len, float mean,
                                   float scale, float shift) {
  const __m256 mu = _mm256_set1_ps(mean), sc = _mm256_set1_ps(scale), sh = _mm256_set1_ps(shift);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) _mm256_storeu_ps(y + i, y8<kResidual, kRelu>(x, residual, i, mu, sc, sh));
  for (; i < len; ++i) y[i] = normaliseOne(x[i], residual, i, mean, scale, shift, kRelu);
}

template <bool kResidual, bool kRelu>
CR_BN_AVX2 void normaliseRowsAvx2Of(const float* x, const float* residual, float* y, int64_t rows, int64_t C,
                                    const float* mean, const float* scale, const float* shift) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    int64_t c = 0;
    for (; c + 8 <= C; c += 8)
      _mm256_storeu_ps(y + start + c, y8<kResidual, kRelu>(x, residual, start + c, _mm256_loadu_ps(mean + c),
                                                           _mm256_loadu_ps(scale + c), _mm256_loadu_ps(shift + c)));
    for (; c < C; ++c) y[start + c] = normaliseOne(x[start + c], residual, start + c, mean[c], scale[c], shift[c], kRelu);
  }
}

void normaliseRunAvx2(const float* x, const float* residual, float* y, int64_t len, float mean, float scale,
                      float shift, bool relu) {
  if (residual != nullptr && relu) normaliseRunAvx2Of<true, true>(x, residual, y, len, mean, scale, shift);
  else if (residual != nullptr) normaliseRunAvx2Of<true, false>(x, residual, y, len, mean, scale, shift);
  else if (relu) normaliseRunAvx2Of<false, true>(x, residual, y, len, mean, scale, shift);
  else normaliseRunAvx2Of<false, false>(x, residual, y, len, mean, scale, shift);
}

// The same with the constants in registers (C = 8 * kBlocks), as rowStatsHeld.
template <int kBlocks, bool kResidual, bool kRelu>
CR_BN_AVX2 void normaliseRowsHeld(const float* x, const float* residual, float* y, int64_t rows, const float* mean,
                                  const float* scale, const float* shift) {
  constexpr int64_t C = 8 * kBlocks;
  __m256 mu[kBlocks], sc[kBlocks], sh[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    mu[b] = _mm256_loadu_ps(mean + 8 * b);
    sc[b] = _mm256_loadu_ps(scale + 8 * b);
    sh[b] = _mm256_loadu_ps(shift + 8 * b);
  }
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const int64_t at = row * C + 8 * b;
      _mm256_storeu_ps(y + at, y8<kResidual, kRelu>(x, residual, at, mu[b], sc[b], sh[b]));
    }
}

template <bool kResidual, bool kRelu>
CR_BN_AVX2 void normaliseRowsAvx2Dispatch(const float* x, const float* residual, float* y, int64_t rows, int64_t C,
                                          const float* mean, const float* scale, const float* shift) {
  switch (C) {
    case 8: return normaliseRowsHeld<1, kResidual, kRelu>(x, residual, y, rows, mean, scale, shift);
    case 16: return normaliseRowsHeld<2, kResidual, kRelu>(x, residual, y, rows, mean, scale, shift);
    case 24: return normaliseRowsHeld<3, kResidual, kRelu>(x, residual, y, rows, mean, scale, shift);
    case 32: return normaliseRowsHeld<4, kResidual, kRelu>(x, residual, y, rows, mean, scale, shift);
    default: return normaliseRowsAvx2Of<kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
  }
}

void normaliseRowsAvx2(const float* x, const float* residual, float* y, int64_t rows, int64_t C, const float* mean,
                       const float* scale, const float* shift, bool relu) {
  if (residual != nullptr && relu) normaliseRowsAvx2Dispatch<true, true>(x, residual, y, rows, C, mean, scale, shift);
  else if (residual != nullptr) normaliseRowsAvx2Dispatch<true, false>(x, residual, y, rows, C, mean, scale, shift);
  else if (relu) normaliseRowsAvx2Dispatch<false, true>(x, residual, y, rows, C, mean, scale, shift);
  else normaliseRowsAvx2Dispatch<false, false>(x, residual, y, rows, C, mean, scale, shift);
}

}  // namespace

const BatchNormKernels& batchNormKernelsAvx2() {
  static const BatchNormKernels kernels{runStatsAvx2, rowStatsAvx2,     runSumsAvx2,      rowSumsAvx2,
                                        gradRunAvx2,  gradRowsAvx2,     normaliseRunAvx2, normaliseRowsAvx2};
  return kernels;
}

}  // namespace cr

#endif  // __x86_64__
