// The AVX-512 set of batch normalisation's hot loops (see batchnorm_kernels.h), compiled with a
// per-function target attribute and run only where cpuIsa() allows. It gives the portable set's bits:
// the double sums keep its eight lanes (one zmm) and its order, the float maps do its operations one
// by one, and contraction into fused multiply-adds is off in this file.
#include "batchnorm_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#pragma GCC optimize("fp-contract=off")
// GCC 12 reads the deliberately undefined vector inside _mm512_cvtps_pd and _mm512_max_ps
// (_mm512_undefined_pd / _ps) as maybe uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define CR_BN_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2")))

namespace cr {
namespace {

// Full vectors use plain loads and stores; only the tails use masks (a masked store is slow on some
// CPUs).

// The first n of 8 (double lanes, or floats of a ymm) or of 16 (floats of a zmm).
inline __mmask8 first8(int64_t n) { return static_cast<__mmask8>((1u << n) - 1); }
inline __mmask16 first16(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }

// g at elements i .. i + 8, or at those of mask m from i (+0 outside it).
template <bool kRelu>
CR_BN_AVX512 inline __m256 grad8x(const float* dy, const float* relu, int64_t i) {
  const __m256 g = _mm256_loadu_ps(dy + i);
  if constexpr (kRelu) return _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(relu + i), _mm256_setzero_ps(), _CMP_GT_OQ));
  return g;
}
template <bool kRelu>
CR_BN_AVX512 inline __m256 grad8m(const float* dy, const float* relu, int64_t i, __mmask8 m) {
  const __m256 g = _mm256_maskz_loadu_ps(m, dy + i);
  if constexpr (kRelu)
    return _mm256_maskz_mov_ps(_mm256_mask_cmp_ps_mask(m, _mm256_maskz_loadu_ps(m, relu + i), _mm256_setzero_ps(), _CMP_GT_OQ), g);
  return g;
}
// The same at 16 elements.
template <bool kRelu>
CR_BN_AVX512 inline __m512 grad16(const float* dy, const float* relu, int64_t i) {
  const __m512 g = _mm512_loadu_ps(dy + i);
  if constexpr (kRelu)
    return _mm512_and_ps(g, _mm512_castsi512_ps(_mm512_movm_epi32(_mm512_cmp_ps_mask(_mm512_loadu_ps(relu + i), _mm512_setzero_ps(), _CMP_GT_OQ))));
  return g;
}
template <bool kRelu>
CR_BN_AVX512 inline __m512 grad16m(const float* dy, const float* relu, int64_t i, __mmask16 m) {
  const __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
  if constexpr (kRelu)
    return _mm512_maskz_mov_ps(_mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, relu + i), _mm512_setzero_ps(), _CMP_GT_OQ), g);
  return g;
}

CR_BN_AVX512 void runStatsAvx512(const float* __restrict x, int64_t len, double shift, double* __restrict s0,
                                 double* __restrict s1) {
  __m512d a0 = _mm512_loadu_pd(s0), a1 = _mm512_loadu_pd(s1);
  const __m512d sh = _mm512_set1_pd(shift);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), sh);
    a0 = _mm512_add_pd(a0, d);
    a1 = _mm512_add_pd(a1, _mm512_mul_pd(d, d));
  }
  _mm512_storeu_pd(s0, a0);
  _mm512_storeu_pd(s1, a1);
  for (; i < len; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    s0[0] += d;
    s1[0] += d * d;
  }
}

// Channels c .. c + 8 of one row (x at the row), or those of mask m.
CR_BN_AVX512 inline void rowStats8(const float* xs, int64_t c, const double* shift, double* p0, double* p1) {
  const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xs + c)), _mm512_loadu_pd(shift + c));
  _mm512_storeu_pd(p0 + c, _mm512_add_pd(_mm512_loadu_pd(p0 + c), d));
  _mm512_storeu_pd(p1 + c, _mm512_add_pd(_mm512_loadu_pd(p1 + c), _mm512_mul_pd(d, d)));
}
CR_BN_AVX512 inline void rowStats8m(const float* xs, int64_t c, __mmask8 m, const double* shift, double* p0,
                                    double* p1) {
  const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, xs + c)), _mm512_maskz_loadu_pd(m, shift + c));
  _mm512_mask_storeu_pd(p0 + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, p0 + c), d));
  _mm512_mask_storeu_pd(p1 + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, p1 + c), _mm512_mul_pd(d, d)));
}

// Rows in order, as the portable set; the sums stay in p0 / p1, which a row of C doubles keeps in the L1 cache.
// With few channels (C <= 8 * kBlocks) the sums and constants stay in registers over the rows: loading
// them again for every row is slower (more so for AVX-512 than for AVX2). Block b covers channels
// 8b .. 8b + 8 (of mask m[b]); the order of every channel's sum is the same.
template <int kBlocks>
CR_BN_AVX512 void rowStatsHeld(const float* __restrict x, int64_t rows, int64_t C, const double* __restrict shift,
                               double* __restrict p0, double* __restrict p1) {
  __m512d a0[kBlocks], a1[kBlocks], sh[kBlocks];
  __mmask8 m[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    m[b] = first8(std::min<int64_t>(8, C - 8 * b));  // kBlocks is the fewest that cover C
    a0[b] = _mm512_maskz_loadu_pd(m[b], p0 + 8 * b);
    a1[b] = _mm512_maskz_loadu_pd(m[b], p1 + 8 * b);
    sh[b] = _mm512_maskz_loadu_pd(m[b], shift + 8 * b);
  }
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const float* xs = x + row * C + 8 * b;
      const __m256 xv = m[b] == 0xff ? _mm256_loadu_ps(xs) : _mm256_maskz_loadu_ps(m[b], xs);
      const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(xv), sh[b]);
      a0[b] = _mm512_add_pd(a0[b], d);
      a1[b] = _mm512_add_pd(a1[b], _mm512_mul_pd(d, d));
    }
  for (int b = 0; b < kBlocks; ++b) {
    _mm512_mask_storeu_pd(p0 + 8 * b, m[b], a0[b]);
    _mm512_mask_storeu_pd(p1 + 8 * b, m[b], a1[b]);
  }
}

CR_BN_AVX512 void rowStatsAvx512(const float* __restrict x, int64_t rows, int64_t C, const double* __restrict shift,
                                 double* __restrict p0, double* __restrict p1) {
  switch ((C + 7) / 8) {
    case 1: return rowStatsHeld<1>(x, rows, C, shift, p0, p1);
    case 2: return rowStatsHeld<2>(x, rows, C, shift, p0, p1);
    case 3: return rowStatsHeld<3>(x, rows, C, shift, p0, p1);
    case 4: return rowStatsHeld<4>(x, rows, C, shift, p0, p1);
    default: break;
  }
  const int64_t full = C - C % 8;
  for (int64_t row = 0; row < rows; ++row) {
    const float* xs = x + row * C;
    for (int64_t c = 0; c < full; c += 8) rowStats8(xs, c, shift, p0, p1);
    if (full < C) rowStats8m(xs, full, first8(C - full), shift, p0, p1);
  }
}

template <bool kRelu, bool kStore>
CR_BN_AVX512 void runSumsAvx512Of(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                                  float* __restrict store, int64_t len, double mean, double* __restrict s0,
                                  double* __restrict s1) {
  __m512d a0 = _mm512_loadu_pd(s0), a1 = _mm512_loadu_pd(s1);
  const __m512d mu = _mm512_set1_pd(mean);
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 g = grad8x<kRelu>(dy, relu, i);
    if constexpr (kStore) _mm256_storeu_ps(store + i, g);
    const __m512d gd = _mm512_cvtps_pd(g);
    a0 = _mm512_add_pd(a0, gd);
    a1 = _mm512_add_pd(a1, _mm512_mul_pd(gd, _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), mu)));
  }
  _mm512_storeu_pd(s0, a0);
  _mm512_storeu_pd(s1, a1);
  for (; i < len; ++i) {
    const float g = gradOne(dy, relu, i);
    if constexpr (kStore) store[i] = g;
    s0[0] += static_cast<double>(g);
    s1[0] += static_cast<double>(g) * (static_cast<double>(x[i]) - mean);
  }
}

void runSumsAvx512(const float* dy, const float* relu, const float* x, float* store, int64_t len, double mean,
                   double* s0, double* s1) {
  if (relu == nullptr) runSumsAvx512Of<false, false>(dy, relu, x, store, len, mean, s0, s1);
  else if (store == nullptr) runSumsAvx512Of<true, false>(dy, relu, x, store, len, mean, s0, s1);
  else runSumsAvx512Of<true, true>(dy, relu, x, store, len, mean, s0, s1);
}

// The backward sums of channels c .. c + 8 at element at (channel c), g given.
CR_BN_AVX512 inline void addSums8(__m256 g, const float* x, int64_t at, int64_t c, const double* mean, double* p0,
                                  double* p1) {
  const __m512d gd = _mm512_cvtps_pd(g);
  const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + at)), _mm512_loadu_pd(mean + c));
  _mm512_storeu_pd(p0 + c, _mm512_add_pd(_mm512_loadu_pd(p0 + c), gd));
  _mm512_storeu_pd(p1 + c, _mm512_add_pd(_mm512_loadu_pd(p1 + c), _mm512_mul_pd(gd, d)));
}
CR_BN_AVX512 inline void addSums8m(__m256 g, const float* x, int64_t at, int64_t c, __mmask8 m, const double* mean,
                                   double* p0, double* p1) {
  const __m512d gd = _mm512_cvtps_pd(g);
  const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + at)), _mm512_maskz_loadu_pd(m, mean + c));
  _mm512_mask_storeu_pd(p0 + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, p0 + c), gd));
  _mm512_mask_storeu_pd(p1 + c, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, p1 + c), _mm512_mul_pd(gd, d)));
}

template <bool kRelu, bool kStore>
CR_BN_AVX512 void rowSumsAvx512Of(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                                  float* __restrict store, int64_t rows, int64_t C, const double* __restrict mean,
                                  double* __restrict p0, double* __restrict p1) {
  const int64_t full = C - C % 8;
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    for (int64_t c = 0; c < full; c += 8) {
      const __m256 g = grad8x<kRelu>(dy, relu, start + c);
      if constexpr (kStore) _mm256_storeu_ps(store + start + c, g);
      addSums8(g, x, start + c, c, mean, p0, p1);
    }
    if (full < C) {
      const __mmask8 m = first8(C - full);
      const __m256 g = grad8m<kRelu>(dy, relu, start + full, m);
      if constexpr (kStore) _mm256_mask_storeu_ps(store + start + full, m, g);
      addSums8m(g, x, start + full, full, m, mean, p0, p1);
    }
  }
}

// The same with the sums and constants in registers (C <= 8 * kBlocks), as rowStatsHeld.
template <int kBlocks, bool kRelu, bool kStore>
CR_BN_AVX512 void rowSumsHeld(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                              float* __restrict store, int64_t rows, int64_t C, const double* __restrict mean,
                              double* __restrict p0, double* __restrict p1) {
  __m512d a0[kBlocks], a1[kBlocks], mu[kBlocks];
  __mmask8 m[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    m[b] = first8(std::min<int64_t>(8, C - 8 * b));  // kBlocks is the fewest that cover C
    a0[b] = _mm512_maskz_loadu_pd(m[b], p0 + 8 * b);
    a1[b] = _mm512_maskz_loadu_pd(m[b], p1 + 8 * b);
    mu[b] = _mm512_maskz_loadu_pd(m[b], mean + 8 * b);
  }
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const int64_t at = row * C + 8 * b;
      const bool full = m[b] == 0xff;
      const __m256 g = full ? grad8x<kRelu>(dy, relu, at) : grad8m<kRelu>(dy, relu, at, m[b]);
      if constexpr (kStore) {
        if (full) _mm256_storeu_ps(store + at, g);
        else _mm256_mask_storeu_ps(store + at, m[b], g);
      }
      const __m256 xv = full ? _mm256_loadu_ps(x + at) : _mm256_maskz_loadu_ps(m[b], x + at);
      const __m512d gd = _mm512_cvtps_pd(g);
      a0[b] = _mm512_add_pd(a0[b], gd);
      a1[b] = _mm512_add_pd(a1[b], _mm512_mul_pd(gd, _mm512_sub_pd(_mm512_cvtps_pd(xv), mu[b])));
    }
  for (int b = 0; b < kBlocks; ++b) {
    _mm512_mask_storeu_pd(p0 + 8 * b, m[b], a0[b]);
    _mm512_mask_storeu_pd(p1 + 8 * b, m[b], a1[b]);
  }
}

template <bool kRelu, bool kStore>
CR_BN_AVX512 void rowSumsAvx512Dispatch(const float* dy, const float* relu, const float* x, float* store, int64_t rows,
                                        int64_t C, const double* mean, double* p0, double* p1) {
  switch ((C + 7) / 8) {
    case 1: return rowSumsHeld<1, kRelu, kStore>(dy, relu, x, store, rows, C, mean, p0, p1);
    case 2: return rowSumsHeld<2, kRelu, kStore>(dy, relu, x, store, rows, C, mean, p0, p1);
    case 3: return rowSumsHeld<3, kRelu, kStore>(dy, relu, x, store, rows, C, mean, p0, p1);
    case 4: return rowSumsHeld<4, kRelu, kStore>(dy, relu, x, store, rows, C, mean, p0, p1);
    default: return rowSumsAvx512Of<kRelu, kStore>(dy, relu, x, store, rows, C, mean, p0, p1);
  }
}

void rowSumsAvx512(const float* dy, const float* relu, const float* x, float* store, int64_t rows, int64_t C,
                   const double* mean, double* p0, double* p1) {
  if (relu == nullptr) rowSumsAvx512Dispatch<false, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else if (store == nullptr) rowSumsAvx512Dispatch<true, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else rowSumsAvx512Dispatch<true, true>(dy, relu, x, store, rows, C, mean, p0, p1);
}

// dx from g and x with per-channel constants in registers.
CR_BN_AVX512 inline __m512 dxOf(__m512 g, __m512 x, __m512 mean, __m512 meanGrad, __m512 xCoef, __m512 gain) {
  const __m512 centred = _mm512_mul_ps(_mm512_sub_ps(x, mean), xCoef);
  return _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(g, meanGrad), centred), gain);
}

template <bool kRelu>
CR_BN_AVX512 void gradRunAvx512Of(const float* dy, const float* relu, const float* x, float* dx, int64_t len,
                                  float mean, float meanGrad, float xCoef, float gain) {
  const __m512 mu = _mm512_set1_ps(mean), mg = _mm512_set1_ps(meanGrad), xc = _mm512_set1_ps(xCoef),
               ga = _mm512_set1_ps(gain);
  int64_t i = 0;
  for (; i + 16 <= len; i += 16)
    _mm512_storeu_ps(dx + i, dxOf(grad16<kRelu>(dy, relu, i), _mm512_loadu_ps(x + i), mu, mg, xc, ga));
  if (i < len) {
    const __mmask16 m = first16(len - i);
    _mm512_mask_storeu_ps(dx + i, m, dxOf(grad16m<kRelu>(dy, relu, i, m), _mm512_maskz_loadu_ps(m, x + i), mu, mg, xc, ga));
  }
}

void gradRunAvx512(const float* dy, const float* relu, const float* x, float* dx, int64_t len, float mean,
                   float meanGrad, float xCoef, float gain) {
  if (relu != nullptr) gradRunAvx512Of<true>(dy, relu, x, dx, len, mean, meanGrad, xCoef, gain);
  else gradRunAvx512Of<false>(dy, relu, x, dx, len, mean, meanGrad, xCoef, gain);
}

template <bool kRelu>
CR_BN_AVX512 void gradRowsAvx512Of(const float* dy, const float* relu, const float* x, float* dx, int64_t rows,
                                   int64_t C, const float* mean, const float* meanGrad, const float* xCoef,
                                   const float* gain) {
  const int64_t full = C - C % 16;
  const __mmask16 m = first16(C - full);
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    for (int64_t c = 0; c < full; c += 16)
      _mm512_storeu_ps(dx + start + c, dxOf(grad16<kRelu>(dy, relu, start + c), _mm512_loadu_ps(x + start + c),
                                            _mm512_loadu_ps(mean + c), _mm512_loadu_ps(meanGrad + c),
                                            _mm512_loadu_ps(xCoef + c), _mm512_loadu_ps(gain + c)));
    if (full < C)
      _mm512_mask_storeu_ps(dx + start + full, m,
                            dxOf(grad16m<kRelu>(dy, relu, start + full, m), _mm512_maskz_loadu_ps(m, x + start + full),
                                 _mm512_maskz_loadu_ps(m, mean + full), _mm512_maskz_loadu_ps(m, meanGrad + full),
                                 _mm512_maskz_loadu_ps(m, xCoef + full), _mm512_maskz_loadu_ps(m, gain + full)));
  }
}

// The same with the constants in registers (C <= 16 * kBlocks), as rowStatsHeld.
template <int kBlocks, bool kRelu>
CR_BN_AVX512 void gradRowsHeld(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
                               const float* mean, const float* meanGrad, const float* xCoef, const float* gain) {
  __m512 mu[kBlocks], mg[kBlocks], xc[kBlocks], ga[kBlocks];
  __mmask16 m[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    m[b] = first16(std::min<int64_t>(16, C - 16 * b));  // kBlocks is the fewest that cover C
    mu[b] = _mm512_maskz_loadu_ps(m[b], mean + 16 * b);
    mg[b] = _mm512_maskz_loadu_ps(m[b], meanGrad + 16 * b);
    xc[b] = _mm512_maskz_loadu_ps(m[b], xCoef + 16 * b);
    ga[b] = _mm512_maskz_loadu_ps(m[b], gain + 16 * b);
  }
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const int64_t at = row * C + 16 * b;
      if (m[b] == 0xffff)
        _mm512_storeu_ps(dx + at, dxOf(grad16<kRelu>(dy, relu, at), _mm512_loadu_ps(x + at), mu[b], mg[b], xc[b], ga[b]));
      else
        _mm512_mask_storeu_ps(dx + at, m[b], dxOf(grad16m<kRelu>(dy, relu, at, m[b]), _mm512_maskz_loadu_ps(m[b], x + at),
                                                  mu[b], mg[b], xc[b], ga[b]));
    }
}

template <bool kRelu>
CR_BN_AVX512 void gradRowsAvx512Dispatch(const float* dy, const float* relu, const float* x, float* dx, int64_t rows,
                                         int64_t C, const float* mean, const float* meanGrad, const float* xCoef,
                                         const float* gain) {
  switch ((C + 15) / 16) {
    case 1: return gradRowsHeld<1, kRelu>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
    case 2: return gradRowsHeld<2, kRelu>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
    case 3: return gradRowsHeld<3, kRelu>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
    case 4: return gradRowsHeld<4, kRelu>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
    default: return gradRowsAvx512Of<kRelu>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
  }
}

void gradRowsAvx512(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
                    const float* mean, const float* meanGrad, const float* xCoef, const float* gain) {
  if (relu != nullptr) gradRowsAvx512Dispatch<true>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
  else gradRowsAvx512Dispatch<false>(dy, relu, x, dx, rows, C, mean, meanGrad, xCoef, gain);
}

// y from x (and the residual r) with per-channel constants in registers; max(0, v) returns v when v is
// NaN, as v < 0 ? 0 : v does.
template <bool kResidual, bool kRelu>
CR_BN_AVX512 inline __m512 yOf(__m512 x, __m512 r, __m512 mean, __m512 scale, __m512 shift) {
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, mean), scale), shift);
  if constexpr (kResidual) v = _mm512_add_ps(v, r);
  if constexpr (kRelu) v = _mm512_max_ps(_mm512_setzero_ps(), v);
  return v;
}

template <bool kResidual, bool kRelu>
CR_BN_AVX512 void normaliseRunAvx512Of(const float* x, const float* residual, float* y, int64_t len, float mean,
                                       float scale, float shift) {
  const __m512 mu = _mm512_set1_ps(mean), sc = _mm512_set1_ps(scale), sh = _mm512_set1_ps(shift);
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= len; i += 16)
    _mm512_storeu_ps(y + i, yOf<kResidual, kRelu>(_mm512_loadu_ps(x + i), kResidual ? _mm512_loadu_ps(residual + i) : zero,
                                                  mu, sc, sh));
  if (i < len) {
    const __mmask16 m = first16(len - i);
    _mm512_mask_storeu_ps(y + i, m, yOf<kResidual, kRelu>(_mm512_maskz_loadu_ps(m, x + i),
                                                          kResidual ? _mm512_maskz_loadu_ps(m, residual + i) : zero, mu, sc, sh));
  }
}

// The same with the constants in registers (C <= 16 * kBlocks), as rowStatsHeld.
template <int kBlocks, bool kResidual, bool kRelu>
CR_BN_AVX512 void normaliseRowsHeld(const float* x, const float* residual, float* y, int64_t rows, int64_t C,
                                    const float* mean, const float* scale, const float* shift) {
  __m512 mu[kBlocks], sc[kBlocks], sh[kBlocks];
  __mmask16 m[kBlocks];
  for (int b = 0; b < kBlocks; ++b) {
    m[b] = first16(std::min<int64_t>(16, C - 16 * b));  // kBlocks is the fewest that cover C
    mu[b] = _mm512_maskz_loadu_ps(m[b], mean + 16 * b);
    sc[b] = _mm512_maskz_loadu_ps(m[b], scale + 16 * b);
    sh[b] = _mm512_maskz_loadu_ps(m[b], shift + 16 * b);
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t row = 0; row < rows; ++row)
    for (int b = 0; b < kBlocks; ++b) {
      const int64_t at = row * C + 16 * b;
      if (m[b] == 0xffff)
        _mm512_storeu_ps(y + at, yOf<kResidual, kRelu>(_mm512_loadu_ps(x + at),
                                                       kResidual ? _mm512_loadu_ps(residual + at) : zero, mu[b], sc[b], sh[b]));
      else
        _mm512_mask_storeu_ps(y + at, m[b],
                              yOf<kResidual, kRelu>(_mm512_maskz_loadu_ps(m[b], x + at),
                                                    kResidual ? _mm512_maskz_loadu_ps(m[b], residual + at) : zero, mu[b],
                                                    sc[b], sh[b]));
    }
}

template <bool kResidual, bool kRelu>
CR_BN_AVX512 void normaliseRowsAvx512Of(const float* x, const float* residual, float* y, int64_t rows, int64_t C,
                                        const float* mean, const float* scale, const float* shift) {
  const int64_t full = C - C % 16;
  const __mmask16 m = first16(C - full);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    for (int64_t c = 0; c < full; c += 16)
      _mm512_storeu_ps(y + start + c,
                       yOf<kResidual, kRelu>(_mm512_loadu_ps(x + start + c),
                                             kResidual ? _mm512_loadu_ps(residual + start + c) : zero,
                                             _mm512_loadu_ps(mean + c), _mm512_loadu_ps(scale + c), _mm512_loadu_ps(shift + c)));
    if (full < C)
      _mm512_mask_storeu_ps(y + start + full, m,
                            yOf<kResidual, kRelu>(_mm512_maskz_loadu_ps(m, x + start + full),
                                                  kResidual ? _mm512_maskz_loadu_ps(m, residual + start + full) : zero,
                                                  _mm512_maskz_loadu_ps(m, mean + full), _mm512_maskz_loadu_ps(m, scale + full),
                                                  _mm512_maskz_loadu_ps(m, shift + full)));
  }
}

void normaliseRunAvx512(const float* x, const float* residual, float* y, int64_t len, float mean, float scale,
                        float shift, bool relu) {
  if (residual != nullptr && relu) normaliseRunAvx512Of<true, true>(x, residual, y, len, mean, scale, shift);
  else if (residual != nullptr) normaliseRunAvx512Of<true, false>(x, residual, y, len, mean, scale, shift);
  else if (relu) normaliseRunAvx512Of<false, true>(x, residual, y, len, mean, scale, shift);
  else normaliseRunAvx512Of<false, false>(x, residual, y, len, mean, scale, shift);
}

template <bool kResidual, bool kRelu>
CR_BN_AVX512 void normaliseRowsAvx512Dispatch(const float* x, const float* residual, float* y, int64_t rows, int64_t C,
                                              const float* mean, const float* scale, const float* shift) {
  switch ((C + 15) / 16) {
    case 1: return normaliseRowsHeld<1, kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
    case 2: return normaliseRowsHeld<2, kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
    case 3: return normaliseRowsHeld<3, kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
    case 4: return normaliseRowsHeld<4, kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
    default: return normaliseRowsAvx512Of<kResidual, kRelu>(x, residual, y, rows, C, mean, scale, shift);
  }
}

void normaliseRowsAvx512(const float* x, const float* residual, float* y, int64_t rows, int64_t C, const float* mean,
                         const float* scale, const float* shift, bool relu) {
  if (residual != nullptr && relu) normaliseRowsAvx512Dispatch<true, true>(x, residual, y, rows, C, mean, scale, shift);
  else if (residual != nullptr) normaliseRowsAvx512Dispatch<true, false>(x, residual, y, rows, C, mean, scale, shift);
  else if (relu) normaliseRowsAvx512Dispatch<false, true>(x, residual, y, rows, C, mean, scale, shift);
  else normaliseRowsAvx512Dispatch<false, false>(x, residual, y, rows, C, mean, scale, shift);
}

}  // namespace

const BatchNormKernels& batchNormKernelsAvx512() {
  static const BatchNormKernels kernels{runStatsAvx512, rowStatsAvx512,     runSumsAvx512,      rowSumsAvx512,
                                        gradRunAvx512,  gradRowsAvx512,     normaliseRunAvx512, normaliseRowsAvx512};
  return kernels;
}

}  // namespace cr

#endif  // __x86_64__
