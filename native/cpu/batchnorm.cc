#include "batchnorm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/error.h"
#include "../core/parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cr {
namespace {

// Elements per parallel task, roughly.
constexpr int64_t kGrainElements = 1 << 14;

// x seen as (outer, C, inner): element (o, c, i) lies at (o * C + c) * inner + i. A contiguous
// (N, C, H, W) tensor is (N, C, H*W); a channelsLast one is (N*H*W, C, 1); an (N, C) one is (N, C, 1).
struct ChannelLayout {
  int64_t outer, channels, inner;
  int64_t perChannel() const { return outer * inner; }
};

ChannelLayout layoutOf(const Tensor& x) {
  if (x.numel() == 0) return {0, x.shape[1], 1};  // no element to visit (a zero H or W included)
  if (x.dim() == 2) return {x.shape[0], x.shape[1], 1};
  int64_t planeSize = x.shape[2] * x.shape[3];
  if (x.format == MemoryFormat::ChannelsLast) return {x.shape[0] * planeSize, x.shape[1], 1};
  return {x.shape[0], x.shape[1], planeSize};
}

constexpr int kLanes = 8;

// Per-channel pairs of sums, in double: out[c] = {first, second}. For planes (inner > 1),
// planeRun(c, start, len, s0, s1) adds the run of len elements at `start` (all of channel c) into the
// lanes s0[0 .. 8) and s1[0 .. 8), element i of a run in lane i % 8 (the tail in lane 0); the lanes are
// added in order at the end. For rows of C values, rowRun(rowBegin, rowEnd, p0, p1) adds rows into the
// per-channel partials p0[0 .. C) and p1[0 .. C) of a block of rows; the blocks are added in order.
// The summation order depends only on the layout, never on the thread count.
template <typename PlaneRun, typename RowRun>
std::vector<std::array<double, 2>> pairSums(const ChannelLayout& L, const PlaneRun& planeRun, const RowRun& rowRun) {
  const int64_t C = L.channels;
  std::vector<std::array<double, 2>> sums(static_cast<size_t>(C), std::array<double, 2>{});  // (C, 2)
  if (L.inner > 1) {
    parallelFor(0, C, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, L.perChannel())),
                [&](int64_t cBegin, int64_t cEnd) {
                  for (int64_t c = cBegin; c < cEnd; ++c) {
                    double s0[kLanes] = {}, s1[kLanes] = {};
                    for (int64_t o = 0; o < L.outer; ++o) planeRun(c, (o * C + c) * L.inner, L.inner, s0, s1);
                    for (int lane = 0; lane < kLanes; ++lane) {
                      sums[c][0] += s0[lane];
                      sums[c][1] += s1[lane];
                    }
                  }
                });
    return sums;
  }
  const int64_t rowsPerBlock = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, C));
  const int64_t blocks = (L.outer + rowsPerBlock - 1) / rowsPerBlock;
  std::vector<double> partials(static_cast<size_t>(blocks * 2 * C), 0.0);  // (blocks, 2, C)
  parallelFor(0, blocks, 1, [&](int64_t blockBegin, int64_t blockEnd) {
    for (int64_t block = blockBegin; block < blockEnd; ++block) {
      double* p = &partials[block * 2 * C];
      rowRun(block * rowsPerBlock, std::min(L.outer, (block + 1) * rowsPerBlock), p, p + C);
    }
  });
  for (int64_t block = 0; block < blocks; ++block) {
    const double* p = &partials[block * 2 * C];
    for (int64_t c = 0; c < C; ++c) {
      sums[c][0] += p[c];
      sums[c][1] += p[C + c];
    }
  }
  return sums;
}

// The hot loops below have an SSE2 form (every x86-64 CPU) and a scalar one; both do the same float /
// double operations in the same order and give the same bits. No FMA: a fused multiply-add would round
// differently from the scalar form.
#if defined(__SSE2__)
// Elements i, i + 1 (lo) and i + 2, i + 3 (hi) of v, widened to double.
inline __m128d lowPair(__m128 v) { return _mm_cvtps_pd(v); }
inline __m128d highPair(__m128 v) { return _mm_cvtps_pd(_mm_movehl_ps(v, v)); }
#endif

// Forward statistics, one pass: sums of d = x - shift and of d * d (shift: a value of the channel, which
// keeps the cancellation in var = E[d^2] - E[d]^2 small), over a run of len elements into 8 lanes.
inline void runStats(const float* __restrict x, int64_t len, double shift, double* __restrict s0,
                     double* __restrict s1) {
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

// The same over rows of C values, per channel (shift (C)).
inline void rowStats(const float* __restrict x, int64_t C, int64_t rowBegin, int64_t rowEnd,
                     const double* __restrict shift, double* __restrict p0, double* __restrict p1) {
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
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

// Calls fn(c, index) once for every element, in parallel.
template <typename Fn>
void forEachElement(const ChannelLayout& L, const Fn& fn) {
  const int64_t C = L.channels;
  if (L.inner > 1) {
    parallelFor(0, L.outer * C, std::max<int64_t>(1, kGrainElements / L.inner), [&](int64_t pBegin, int64_t pEnd) {
      for (int64_t plane = pBegin; plane < pEnd; ++plane) {
        const int64_t c = plane % C, planeStart = plane * L.inner;
        for (int64_t i = 0; i < L.inner; ++i) fn(c, planeStart + i);
      }
    });
    return;
  }
  parallelFor(0, L.outer, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, C)),
              [&](int64_t rowBegin, int64_t rowEnd) {
                for (int64_t row = rowBegin; row < rowEnd; ++row)
                  for (int64_t c = 0; c < C; ++c) fn(c, row * C + c);
              });
}

// The same tensor when it already has x's layout, otherwise a copy in x's memory format.
Tensor inFormatOf(const Tensor& t, const Tensor& x) { return t.format == x.format ? t : toFormat(t, x.format); }

// Per-channel affine map y = (x - mean) * scale + shift, from the statistics and the optional weight / bias.
struct Normalisation {
  Tensor saveMean, saveInvStd;            // (C): what the backward pass needs
  std::vector<float> mean, scale, shift;  // (C)
};

Normalisation normalisation(const char* op, const Tensor& x, const Tensor* weight, const Tensor* bias,
                            Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps) {
  checkBatchNormForward(op, Device::CPU, x, weight, bias, runningMean, runningVar, training, momentum, eps);
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels, n = L.perChannel();

  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));  // (C)
  if (training) {
    // One pass: per channel, sums of d = x - shift and d^2 with shift = the channel's first value.
    const float* xData = x.f32();
    std::vector<double> shift(static_cast<size_t>(C));  // (C)
    for (int64_t c = 0; c < C; ++c) shift[c] = xData[c * L.inner];
    const auto sums = pairSums(
        L,
        [&](int64_t c, int64_t start, int64_t len, double* s0, double* s1) {
          runStats(xData + start, len, shift[c], s0, s1);
        },
        [&](int64_t rowBegin, int64_t rowEnd, double* p0, double* p1) {
          rowStats(xData, C, rowBegin, rowEnd, shift.data(), p0, p1);
        });
    for (int64_t c = 0; c < C; ++c) {
      const double meanD = sums[c][0] / static_cast<double>(n);
      mean[c] = shift[c] + meanD;
      var[c] = std::max(0.0, sums[c][1] / static_cast<double>(n) - meanD * meanD);
    }
    if (runningMean != nullptr) {
      float* runMean = runningMean->f32();
      float* runVar = runningVar->f32();
      const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      for (int64_t c = 0; c < C; ++c) {
        runMean[c] = static_cast<float>((1 - momentum) * runMean[c] + momentum * mean[c]);
        runVar[c] = static_cast<float>((1 - momentum) * runVar[c] + momentum * var[c] * unbias);
      }
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = runningMean->f32()[c];
      var[c] = runningVar->f32()[c];
    }
  }

  Normalisation norm{empty({C}), empty({C}), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C)};
  for (int64_t c = 0; c < C; ++c) {
    const double invStd = 1.0 / std::sqrt(var[c] + eps);
    norm.saveMean.f32()[c] = norm.mean[c] = static_cast<float>(mean[c]);
    norm.saveInvStd.f32()[c] = static_cast<float>(invStd);
    norm.scale[c] = static_cast<float>(invStd * (weight != nullptr ? weight->f32()[c] : 1.0f));
    norm.shift[c] = bias != nullptr ? bias->f32()[c] : 0.0f;
  }
  return norm;
}

struct NormGrads { Tensor dx, dweight, dbias; };

// Where the backward pass reads dL/dy: dy[i], or with a ReLU tail (relu given) relu[i] > 0 ? dy[i] : 0,
// relu being the forward output. masked, when given, receives that gradient (bnAddRelu's dresidual).
// All in x's memory format.
struct GradSource {
  const float* dy;
  const float* relu;
  float* masked;
};

// dL/dy at element i. The ReLU mask is applied with integer operations (keep g's bits where relu > 0,
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
// dL/dy at elements i .. i + 3.
template <bool kRelu>
inline __m128 gradAt4(const float* __restrict dy, const float* __restrict relu, int64_t i) {
  const __m128 g = _mm_loadu_ps(dy + i);
  if constexpr (kRelu) return _mm_and_ps(g, _mm_cmpgt_ps(_mm_loadu_ps(relu + i), _mm_setzero_ps()));
  return g;
}
#endif

// Backward reductions over a run of len elements of one channel, into 8 lanes: s0 = sum of g,
// s1 = sum of g * (x - mean). store, when given, receives g.
template <bool kRelu, bool kStore>
inline void runSums(const float* __restrict dy, const float* __restrict relu, const float* __restrict x,
                    float* __restrict store, int64_t len, double mean, double* __restrict s0,
                    double* __restrict s1) {
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

// The same over rows of C values (row r starts at r * C), per channel (mean (C)).
template <bool kRelu, bool kStore>
void rowSums(const GradSource& src, const float* x, int64_t C, int64_t rowBegin, int64_t rowEnd,
             const double* __restrict mean, double* __restrict p0, double* __restrict p1) {
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const int64_t start = row * C;
    const float* __restrict dy = src.dy + start;
    const float* __restrict relu = kRelu ? src.relu + start : nullptr;
    const float* __restrict xs = x + start;
    float* __restrict store = kStore ? src.masked + start : nullptr;
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

// Per-channel {sum of g, sum of g * (x - mean)}, g read from src; with src.masked set, g is also stored there.
template <bool kRelu, bool kStore>
std::vector<std::array<double, 2>> gradSums(const GradSource& src, const Tensor& x, const float* mean) {
  const ChannelLayout L = layoutOf(x);
  const float* xData = x.f32();
  const std::vector<double> meanD(mean, mean + L.channels);  // (C)
  return pairSums(
      L,
      [&](int64_t c, int64_t start, int64_t len, double* s0, double* s1) {
        runSums<kRelu, kStore>(src.dy + start, kRelu ? src.relu + start : nullptr, xData + start,
                               kStore ? src.masked + start : nullptr, len, meanD[c], s0, s1);
      },
      [&](int64_t rowBegin, int64_t rowEnd, double* p0, double* p1) {
        rowSums<kRelu, kStore>(src, xData, L.channels, rowBegin, rowEnd, meanD.data(), p0, p1);
      });
}

// dx = (g - meanGrad - (x - mean) * xCoef) * gain over n elements whose per-channel constants are
// mean[k * step], meanGrad[k * step] ... (step 0: one channel, step 1: a row of channels).
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

template <bool kRelu>
void applyInputGrad(const GradSource& src, const Tensor& x, const float* mean, const float* meanGrad,
                    const float* xCoef, const float* gain, float* dx) {
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels;
  const float* xData = x.f32();
  if (L.inner > 1) {
    parallelFor(0, L.outer * C, std::max<int64_t>(1, kGrainElements / L.inner), [&](int64_t pBegin, int64_t pEnd) {
      for (int64_t plane = pBegin; plane < pEnd; ++plane) {
        const int64_t c = plane % C, start = plane * L.inner;
        applyRun<kRelu, 0>(src.dy + start, kRelu ? src.relu + start : nullptr, xData + start, dx + start, L.inner,
                           mean + c, meanGrad + c, xCoef + c, gain + c);
      }
    });
    return;
  }
  parallelFor(0, L.outer, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, C)),
              [&](int64_t rowBegin, int64_t rowEnd) {
                for (int64_t row = rowBegin; row < rowEnd; ++row) {
                  const int64_t start = row * C;
                  applyRun<kRelu, 1>(src.dy + start, kRelu ? src.relu + start : nullptr, xData + start, dx + start,
                                     C, mean, meanGrad, xCoef, gain);
                }
              });
}

// Backward of y = (x - mean) * invStd * weight + bias with dL/dy read from src; x, saveMean and saveInvStd
// must already be checked. One reduction pass (when dweight, dbias or a training dx is wanted) and one
// pass for dx; src.masked, when set, is filled during the first pass that runs (or a pass of its own).
NormGrads normBackward(const Tensor& x, const Tensor* weight, const Tensor& saveMean, const Tensor& saveInvStd,
                       bool training, bool needDx, bool needDweight, bool needDbias, GradSource src) {
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels;
  const double n = static_cast<double>(L.perChannel());
  const float* mean = saveMean.f32();
  const float* invStd = saveInvStd.f32();
  needDweight = needDweight && weight != nullptr;

  // sums[c] = {sum of dL/dy, sum of dL/dy * (x - mean)} over channel c.
  std::vector<std::array<double, 2>> sums;
  if (needDweight || needDbias || (needDx && training)) {
    if (src.relu == nullptr) {
      sums = gradSums<false, false>(src, x, mean);
    } else if (src.masked == nullptr) {
      sums = gradSums<true, false>(src, x, mean);
    } else {
      sums = gradSums<true, true>(src, x, mean);
      src = {src.masked, nullptr, nullptr};  // the masked gradient is now stored: read it back
    }
  } else if (src.masked != nullptr) {
    const float* __restrict dy = src.dy;
    const float* __restrict relu = src.relu;
    float* __restrict masked = src.masked;
    forEachElement(L, [&](int64_t, int64_t i) { masked[i] = gradAt<true>(dy, relu, i); });
    src = {src.masked, nullptr, nullptr};
  }
  NormGrads grads;
  if (needDweight) {
    grads.dweight = empty({C});
    for (int64_t c = 0; c < C; ++c) grads.dweight.f32()[c] = static_cast<float>(sums[c][1] * invStd[c]);
  }
  if (needDbias) {
    grads.dbias = empty({C});
    for (int64_t c = 0; c < C; ++c) grads.dbias.f32()[c] = static_cast<float>(sums[c][0]);
  }
  if (!needDx) return grads;

  // dx = (g - meanGrad - (x - mean) * xCoef) * gain; in eval mode meanGrad and xCoef are zero.
  std::vector<float> gain(C), meanGrad(C, 0.0f), xCoef(C, 0.0f);  // (C)
  for (int64_t c = 0; c < C; ++c) {
    gain[c] = static_cast<float>(static_cast<double>(invStd[c]) * (weight != nullptr ? weight->f32()[c] : 1.0f));
    if (training) {
      meanGrad[c] = static_cast<float>(sums[c][0] / n);
      xCoef[c] = static_cast<float>(static_cast<double>(invStd[c]) * invStd[c] * sums[c][1] / n);
    }
  }
  grads.dx = empty(x.shape, DType::Float32, x.format);
  if (src.relu != nullptr)
    applyInputGrad<true>(src, x, mean, meanGrad.data(), xCoef.data(), gain.data(), grads.dx.f32());
  else
    applyInputGrad<false>(src, x, mean, meanGrad.data(), xCoef.data(), gain.data(), grads.dx.f32());
  return grads;
}

void checkBackwardArgs(const char* op, const Tensor& dy, const Tensor& x, const Tensor* weight,
                       const Tensor& saveMean, const Tensor& saveInvStd) {
  checkBatchNormBackward(op, Device::CPU, dy, x, weight, saveMean, saveInvStd);
}

// The ReLU tails: y = relu(batchNorm(x) + residual) when residual is given, y = relu(batchNorm(x))
// when it is null. One pass for the statistics (training) and one that normalises, adds and clamps.
template <bool kResidual>
void applyReluTail(const Tensor& x, const float* rData, const Normalisation& norm, float* yData) {
  const float* xData = x.f32();
  const float* mean = norm.mean.data();
  const float* scale = norm.scale.data();
  const float* shift = norm.shift.data();
  forEachElement(layoutOf(x), [&](int64_t c, int64_t i) {
    float v = (xData[i] - mean[c]) * scale[c] + shift[c];
    if constexpr (kResidual) v += rData[i];
    yData[i] = v < 0.0f ? 0.0f : v;  // NaN passes through, as torch.relu
  });
}

BatchNormResult reluTailForward(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, Tensor* runningMean, Tensor* runningVar, bool training,
                                double momentum, double eps) {
  checkBatchNormInput(op, Device::CPU, "x", x);
  if (residual != nullptr) {
    expectFloat32(op, "residual", *residual);
    expectShape(op, "residual", *residual, x.shape);
  }
  Normalisation norm = normalisation(op, x, weight, bias, runningMean, runningVar, training, momentum, eps);
  Tensor y = empty(x.shape, DType::Float32, x.format);
  if (residual != nullptr) {
    const Tensor residualLikeX = inFormatOf(*residual, x);
    applyReluTail<true>(x, residualLikeX.f32(), norm, y.f32());
  } else {
    applyReluTail<false>(x, nullptr, norm, y.f32());
  }
  return {y, norm.saveMean, norm.saveInvStd};
}

// Backward of a ReLU tail; y is the forward output (its sign gives the ReLU mask), applied on the fly
// inside the normalisation's backward. dresidual, the gradient reaching the sum, is made on request
// (bnAddRelu), stored by the reduction pass.
BnAddReluGrads reluTailBackward(const char* op, const Tensor& dy, const Tensor& y, const Tensor& x,
                                const Tensor* weight, const Tensor& saveMean, const Tensor& saveInvStd, bool training,
                                bool needDx, bool needDresidual, bool needDweight, bool needDbias) {
  checkBackwardArgs(op, dy, x, weight, saveMean, saveInvStd);
  expectFloat32(op, "y", y);
  expectShape(op, "y", y, x.shape);
  const Tensor dyLikeX = inFormatOf(dy, x);
  const Tensor yLikeX = inFormatOf(y, x);
  const float* dyData = dyLikeX.f32();
  const float* yData = yLikeX.f32();
  BnAddReluGrads grads;
  if (needDresidual) grads.dresidual = empty(x.shape, DType::Float32, x.format);
  const NormGrads g = normBackward(x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias,
                                   {dyData, yData, needDresidual ? grads.dresidual.f32() : nullptr});
  grads.dx = g.dx;
  grads.dweight = g.dweight;
  grads.dbias = g.dbias;
  return grads;
}

}  // namespace

BatchNormResult batchNorm2d(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                                 Tensor* runningVar, bool training, double momentum, double eps) {
  Normalisation norm =
      normalisation("batchNorm2d", x, weight, bias, runningMean, runningVar, training, momentum, eps);
  Tensor y = empty(x.shape, DType::Float32, x.format);
  const float* xData = x.f32();
  float* yData = y.f32();
  forEachElement(layoutOf(x), [&](int64_t c, int64_t i) {
    yData[i] = (xData[i] - norm.mean[c]) * norm.scale[c] + norm.shift[c];
  });
  return {y, norm.saveMean, norm.saveInvStd};
}

BatchNormGrads batchNorm2dBackward(const Tensor& dy, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                                 const Tensor& saveInvStd, bool training, bool needDx, bool needDweight,
                                 bool needDbias) {
  checkBackwardArgs("batchNorm2dBackward", dy, x, weight, saveMean, saveInvStd);
  const Tensor dyLikeX = inFormatOf(dy, x);
  const float* dyData = dyLikeX.f32();
  NormGrads g = normBackward(x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias,
                             {dyData, nullptr, nullptr});
  return {g.dx, g.dweight, g.dbias};
}

BatchNormResult bnAddRelu(const Tensor& x, const Tensor& residual, const Tensor* weight, const Tensor* bias,
                                 Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps) {
  return reluTailForward("bnAddRelu", x, &residual, weight, bias, runningMean, runningVar, training, momentum, eps);
}

BnAddReluGrads bnAddReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                                 const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                                 bool needDresidual, bool needDweight, bool needDbias) {
  return reluTailBackward("bnAddReluBackward", dy, y, x, weight, saveMean, saveInvStd, training, needDx,
                          needDresidual, needDweight, needDbias);
}

BatchNormResult bnRelu(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                              Tensor* runningVar, bool training, double momentum, double eps) {
  return reluTailForward("bnRelu", x, nullptr, weight, bias, runningMean, runningVar, training, momentum, eps);
}

BatchNormGrads bnReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                              const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                              bool needDweight, bool needDbias) {
  BnAddReluGrads g = reluTailBackward("bnReluBackward", dy, y, x, weight, saveMean, saveInvStd, training, needDx,
                                      false, needDweight, needDbias);
  return {g.dx, g.dweight, g.dbias};
}

}  // namespace cr
