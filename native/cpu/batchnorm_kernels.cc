// The portable set of batch normalisation's hot loops (SSE2 on x86-64, scalar elsewhere) and the
// choice of set by cpuIsa(). See batchnorm_kernels.h for what each computes.
#include "batchnorm_kernels.h"

#include <cstring>

#include "../core/cpu_features.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cr {
namespace {

constexpr int kLanes = 8;

#if defined(__SSE2__)
// Elements i, i + 1 (lo) and i + 2, i + 3 (hi) of v, widened to double.
inline __m128d lowPair(__m128 v) { return _mm_cvtps_pd(v); }
inline __m128d highPair(__m128 v) { return _mm_cvtps_pd(_mm_movehl_ps(v, v)); }
#endif

void runStats(const float* __restrict x, int64_t len, double shift, double* __restrict s0, double* __restrict s1) {
  int64_t i = 0;
#if defined(__SSE2__)
  __m128d a0[4], a1[4];  // lanes 2k and 2k + 1
  for (int k = 0; k < 4; ++k) {
    a0[k] = _mm_loadu_pd(s0 + 2 * k);
    a1[k] = _mm_loadu_pd(s1 + 2 * k);
  }
  const __m128d sh = _mm_set1_pd(shift);
  for (; i + kLanes <= len; i += kLanes) {
    for (int half = 0; half < 2; ++half) {
      const __m128 xv = _mm_loadu_ps(x + i + 4 * half);
      const __m128d dLo = _mm_sub_pd(lowPair(xv), sh), dHi = _mm_sub_pd(highPair(xv), sh);
      a0[2 * half] = _mm_add_pd(a0[2 * half], dLo);
      a0[2 * half + 1] = _mm_add_pd(a0[2 * half + 1], dHi);
      a1[2 * half] = _mm_add_pd(a1[2 * half], _mm_mul_pd(dLo, dLo));
      a1[2 * half + 1] = _mm_add_pd(a1[2 * half + 1], _mm_mul_pd(dHi, dHi));
    }
  }
  for (int k = 0; k < 4; ++k) {
    _mm_storeu_pd(s0 + 2 * k, a0[k]);
    _mm_storeu_pd(s1 + 2 * k, a1[k]);
  }
#else
  for (; i + kLanes <= len; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) {
      const double d = static_cast<double>(x[i + lane]) - shift;
      s0[lane] += d;
      s1[lane] += d * d;
    }
  }
#endif
  for (; i < len; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    s0[0] += d;
    s1[0] += d * d;
  }
}

void rowStats(const float* __restrict x, int64_t rows, int64_t C, const double* __restrict shift,
              double* __restrict p0, double* __restrict p1) {
  for (int64_t row = 0; row < rows; ++row) {
    const float* __restrict xs = x + row * C;
    int64_t c = 0;
#if defined(__SSE2__)
    for (; c + 4 <= C; c += 4) {
      const __m128 xv = _mm_loadu_ps(xs + c);
      const __m128d dLo = _mm_sub_pd(lowPair(xv), _mm_loadu_pd(shift + c));
      const __m128d dHi = _mm_sub_pd(highPair(xv), _mm_loadu_pd(shift + c + 2));
      _mm_storeu_pd(p0 + c, _mm_add_pd(_mm_loadu_pd(p0 + c), dLo));
      _mm_storeu_pd(p0 + c + 2, _mm_add_pd(_mm_loadu_pd(p0 + c + 2), dHi));
      _mm_storeu_pd(p1 + c, _mm_add_pd(_mm_loadu_pd(p1 + c), _mm_mul_pd(dLo, dLo)));
      _mm_storeu_pd(p1 + c + 2, _mm_add_pd(_mm_loadu_pd(p1 + c + 2), _mm_mul_pd(dHi, dHi)));
    }
#endif
    for (; c < C; ++c) {
      const double d = static_cast<double>(xs[c]) - shift[c];
      p0[c] += d;
      p1[c] += d * d;
    }
  }
}

// g at element i. The ReLU mask is applied with integer operations (keep g's bits where relu > 0,
// else +0): a conditional (relu > 0 ? g : 0) became a branch, mispredicted on about half of the elements.
template <bool kRelu>
inline float gradAt(const float* __restrict dy, const float* __restrict relu, int64_t i) {
  const float g = dy[i];
  if constexpr (kRelu) {
    uint32_t bits;
    std::memcpy(&bits, &g, sizeof bits);
    bits &= 0u - static_cast<uint32_t>(relu[i] > 0.0f);
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  }
  return g;
}

#if defined(__SSE2__)
// g at elements i .. i + 3.
template <bool kRelu>
inline __m128 gradAt4(const float* __restrict dy, const float* __restrict relu, int64_t i) {
  const __m128 g = _mm_loadu_ps(dy + i);
  if constexpr (kRelu) return _mm_and_ps(g, _mm_cmpgt_ps(_mm_loadu_ps(relu + i), _mm_setzero_ps()));
  return g;
}
#endif

template <bool kRelu, bool kStore>
void runSumsOf(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
               float* __restrict store, int64_t len, double mean, double* __restrict s0, double* __restrict s1) {
  int64_t i = 0;
#if defined(__SSE2__)
  __m128d a0[4], a1[4];  // lanes 2k and 2k + 1
  for (int k = 0; k < 4; ++k) {
    a0[k] = _mm_loadu_pd(s0 + 2 * k);
    a1[k] = _mm_loadu_pd(s1 + 2 * k);
  }
  const __m128d mu = _mm_set1_pd(mean);
  for (; i + kLanes <= len; i += kLanes) {
    for (int half = 0; half < 2; ++half) {
      const __m128 g = gradAt4<kRelu>(dy, relu, i + 4 * half);
      if constexpr (kStore) _mm_storeu_ps(store + i + 4 * half, g);
      const __m128 xv = _mm_loadu_ps(x + i + 4 * half);
      const __m128d gLo = lowPair(g), gHi = highPair(g);
      a0[2 * half] = _mm_add_pd(a0[2 * half], gLo);
      a0[2 * half + 1] = _mm_add_pd(a0[2 * half + 1], gHi);
      a1[2 * half] = _mm_add_pd(a1[2 * half], _mm_mul_pd(gLo, _mm_sub_pd(lowPair(xv), mu)));
      a1[2 * half + 1] = _mm_add_pd(a1[2 * half + 1], _mm_mul_pd(gHi, _mm_sub_pd(highPair(xv), mu)));
    }
  }
  for (int k = 0; k < 4; ++k) {
    _mm_storeu_pd(s0 + 2 * k, a0[k]);
    _mm_storeu_pd(s1 + 2 * k, a1[k]);
  }
#else
  for (; i + kLanes <= len; i += kLanes) {
    for (int lane = 0; lane < kLanes; ++lane) {
      const float g = gradAt<kRelu>(dy, relu, i + lane);
      if constexpr (kStore) store[i + lane] = g;
      const double d = g;
      s0[lane] += d;
      s1[lane] += d * (static_cast<double>(x[i + lane]) - mean);
    }
  }
#endif
  for (; i < len; ++i) {
    const float g = gradAt<kRelu>(dy, relu, i);
    if constexpr (kStore) store[i] = g;
    const double d = g;
    s0[0] += d;
    s1[0] += d * (static_cast<double>(x[i]) - mean);
  }
}

void runSums(const float* dy, const float* relu, const float* x, float* store, int64_t len, double mean, double* s0,
             double* s1) {
  if (relu == nullptr) runSumsOf<false, false>(dy, relu, x, store, len, mean, s0, s1);
  else if (store == nullptr) runSumsOf<true, false>(dy, relu, x, store, len, mean, s0, s1);
  else runSumsOf<true, true>(dy, relu, x, store, len, mean, s0, s1);
}

template <bool kRelu, bool kStore>
void rowSumsOf(const float* dyAll, const float* reluAll, const float* xAll, float* storeAll, int64_t rows, int64_t C,
               const double* __restrict mean, double* __restrict p0, double* __restrict p1) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    const float* __restrict dy = dyAll + start;
    const float* __restrict relu = kRelu ? reluAll + start : nullptr;
    const float* __restrict xs = xAll + start;
    float* __restrict store = kStore ? storeAll + start : nullptr;
    int64_t c = 0;
#if defined(__SSE2__)
    for (; c + 4 <= C; c += 4) {
      const __m128 g = gradAt4<kRelu>(dy, relu, c);
      if constexpr (kStore) _mm_storeu_ps(store + c, g);
      const __m128 xv = _mm_loadu_ps(xs + c);
      const __m128d gLo = lowPair(g), gHi = highPair(g);
      const __m128d dLo = _mm_sub_pd(lowPair(xv), _mm_loadu_pd(mean + c));
      const __m128d dHi = _mm_sub_pd(highPair(xv), _mm_loadu_pd(mean + c + 2));
      _mm_storeu_pd(p0 + c, _mm_add_pd(_mm_loadu_pd(p0 + c), gLo));
      _mm_storeu_pd(p0 + c + 2, _mm_add_pd(_mm_loadu_pd(p0 + c + 2), gHi));
      _mm_storeu_pd(p1 + c, _mm_add_pd(_mm_loadu_pd(p1 + c), _mm_mul_pd(gLo, dLo)));
      _mm_storeu_pd(p1 + c + 2, _mm_add_pd(_mm_loadu_pd(p1 + c + 2), _mm_mul_pd(gHi, dHi)));
    }
#endif
    for (; c < C; ++c) {
      const float g = gradAt<kRelu>(dy, relu, c);
      if constexpr (kStore) store[c] = g;
      const double d = g;
      p0[c] += d;
      p1[c] += d * (static_cast<double>(xs[c]) - mean[c]);
    }
  }
}

void rowSums(const float* dy, const float* relu, const float* x, float* store, int64_t rows, int64_t C,
             const double* mean, double* p0, double* p1) {
  if (relu == nullptr) rowSumsOf<false, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else if (store == nullptr) rowSumsOf<true, false>(dy, relu, x, store, rows, C, mean, p0, p1);
  else rowSumsOf<true, true>(dy, relu, x, store, rows, C, mean, p0, p1);
}

// dx over n elements whose per-channel constants are mean[k * step], meanGrad[k * step] ... (step 0:
// one channel, step 1: a row of channels).
template <bool kRelu, int kStep>
inline void applyRun(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                     float* __restrict dx, int64_t n, const float* __restrict mean, const float* __restrict meanGrad,
                     const float* __restrict xCoef, const float* __restrict gain) {
  int64_t i = 0;
#if defined(__SSE2__)
  const auto constant = [&](const float* v, int64_t at) { return kStep == 0 ? _mm_set1_ps(v[0]) : _mm_loadu_ps(v + at); };
  for (; i + 4 <= n; i += 4) {
    const __m128 g = gradAt4<kRelu>(dy, relu, i);
    const __m128 centred = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(x + i), constant(mean, i)), constant(xCoef, i));
    _mm_storeu_ps(dx + i, _mm_mul_ps(_mm_sub_ps(_mm_sub_ps(g, constant(meanGrad, i)), centred), constant(gain, i)));
  }
#endif
  for (; i < n; ++i) {
    const int64_t k = i * kStep;
    dx[i] = (gradAt<kRelu>(dy, relu, i) - meanGrad[k] - (x[i] - mean[k]) * xCoef[k]) * gain[k];
  }
}

void gradRun(const float* dy, const float* relu, const float* x, float* dx, int64_t len, float mean, float meanGrad,
             float xCoef, float gain) {
  if (relu != nullptr) applyRun<true, 0>(dy, relu, x, dx, len, &mean, &meanGrad, &xCoef, &gain);
  else applyRun<false, 0>(dy, relu, x, dx, len, &mean, &meanGrad, &xCoef, &gain);
}

void gradRows(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
              const float* mean, const float* meanGrad, const float* xCoef, const float* gain) {
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t start = row * C;
    if (relu != nullptr)
      applyRun<true, 1>(dy + start, relu + start, x + start, dx + start, C, mean, meanGrad, xCoef, gain);
    else
      applyRun<false, 1>(dy + start, nullptr, x + start, dx + start, C, mean, meanGrad, xCoef, gain);
  }
}

template <bool kResidual, bool kRelu>
void normaliseRunOf(const float* __restrict x, const float* __restrict residual, float* __restrict y, int64_t len,
                    float mean, float scale, float shift) {
  for (int64_t i = 0; i < len; ++i) {
    float v = (x[i] - mean) * scale + shift;
    if constexpr (kResidual) v += residual[i];
    if constexpr (kRelu) v = v < 0.0f ? 0.0f : v;
    y[i] = v;
  }
}

void normaliseRun(const float* x, const float* residual, float* y, int64_t len, float mean, float scale, float shift,
                  bool relu) {
  if (residual != nullptr) {
    if (relu) normaliseRunOf<true, true>(x, residual, y, len, mean, scale, shift);
    else normaliseRunOf<true, false>(x, residual, y, len, mean, scale, shift);
  } else {
    if (relu) normaliseRunOf<false, true>(x, residual, y, len, mean, scale, shift);
    else normaliseRunOf<false, false>(x, residual, y, len, mean, scale, shift);
  }
}

template <bool kResidual, bool kRelu>
void normaliseRowsOf(const float* __restrict x, const float* __restrict residual, float* __restrict y, int64_t rows,
                     int64_t C, const float* __restrict mean, const float* __restrict scale,
                     const float* __restrict shift) {
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t i = row * C + c;
      float v = (x[i] - mean[c]) * scale[c] + shift[c];
      if constexpr (kResidual) v += residual[i];
      if constexpr (kRelu) v = v < 0.0f ? 0.0f : v;
      y[i] = v;
    }
}

void normaliseRows(const float* x, const float* residual, float* y, int64_t rows, int64_t C, const float* mean,
                   const float* scale, const float* shift, bool relu) {
  if (residual != nullptr) {
    if (relu) normaliseRowsOf<true, true>(x, residual, y, rows, C, mean, scale, shift);
    else normaliseRowsOf<true, false>(x, residual, y, rows, C, mean, scale, shift);
  } else {
    if (relu) normaliseRowsOf<false, true>(x, residual, y, rows, C, mean, scale, shift);
    else normaliseRowsOf<false, false>(x, residual, y, rows, C, mean, scale, shift);
  }
}

}  // namespace

const BatchNormKernels& batchNormKernelsPortable() {
  static const BatchNormKernels kernels{runStats, rowStats,     runSums,      rowSums,
                                        gradRun,  gradRows,     normaliseRun, normaliseRows};
  return kernels;
}

const BatchNormKernels& batchNormKernels() {
#if defined(__x86_64__)
  switch (cpuIsa()) {
    case CpuIsa::Avx512: return batchNormKernelsAvx512();
    case CpuIsa::Avx2: return batchNormKernelsAvx2();
    case CpuIsa::Portable: break;
  }
#endif
  return batchNormKernelsPortable();
}

}  // namespace cr
