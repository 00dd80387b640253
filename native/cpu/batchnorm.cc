#include "batchnorm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.h"
#include "../core/parallel.h"
#include "batchnorm_kernels.h"

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

// Per-channel pairs of sums, in double: out[c] = {first, second}. For planes (inner > 1),
// planeRun(c, start, len, s0, s1) adds the run of len elements at `start` (all of channel c) into the
// lanes s0[0 .. 8) and s1[0 .. 8), element i of a run in lane i % 8 (the tail in lane 0); the lanes are
// added in order at the end. For rows of C values, rowRun(rowBegin, rowEnd, p0, p1) adds rows into the
// per-channel partials p0[0 .. C) and p1[0 .. C) of a block of rows; the blocks are added in order.
// The summation order depends only on the layout, never on the thread count.
constexpr int kLanes = 8;  // the partial sums of a run (batchnorm_kernels.h)

// The pair of sums of channel c when the layout has planes (inner > 1), as pairSums makes them.
template <typename PlaneRun>
std::array<double, 2> channelSums(const ChannelLayout& L, int64_t c, const PlaneRun& planeRun) {
  double s0[kLanes] = {}, s1[kLanes] = {};
  for (int64_t o = 0; o < L.outer; ++o) planeRun(c, (o * L.channels + c) * L.inner, L.inner, s0, s1);
  std::array<double, 2> sums{};
  for (int lane = 0; lane < kLanes; ++lane) {
    sums[0] += s0[lane];
    sums[1] += s1[lane];
  }
  return sums;
}

template <typename PlaneRun, typename RowRun>
std::vector<std::array<double, 2>> pairSums(const ChannelLayout& L, const PlaneRun& planeRun, const RowRun& rowRun) {
  const int64_t C = L.channels;
  std::vector<std::array<double, 2>> sums(static_cast<size_t>(C), std::array<double, 2>{});  // (C, 2)
  if (L.inner > 1) {
    parallelFor(0, C, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, L.perChannel())),
                [&](int64_t cBegin, int64_t cEnd) {
                  for (int64_t c = cBegin; c < cEnd; ++c) sums[c] = channelSums(L, c, planeRun);
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

// Calls run(c, start) for every plane (the inner elements from start, all of channel c) when the
// layout has planes, else rows(rowBegin, rowEnd) for blocks of rows of C values; in parallel.
template <typename Run, typename Rows>
void forEachPart(const ChannelLayout& L, const Run& run, const Rows& rows) {
  const int64_t C = L.channels;
  if (L.inner > 1) {
    parallelFor(0, L.outer * C, std::max<int64_t>(1, kGrainElements / L.inner), [&](int64_t pBegin, int64_t pEnd) {
      for (int64_t plane = pBegin; plane < pEnd; ++plane) run(plane % C, plane * L.inner);
    });
    return;
  }
  parallelFor(0, L.outer, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, C)), rows);
}

// The same tensor when it already has x's layout, otherwise a copy in x's memory format.
Tensor inFormatOf(const Tensor& t, const Tensor& x) { return t.format == x.format ? t : toFormat(t, x.format); }

// Whether the passes over a layout with planes run channel by channel (in parallel over channels): a
// pass that reads a channel's planes right after another one did then finds them in the cache (the
// second pass walks the planes backwards, the most recently read first). It needs a few channels per
// thread to keep the threads busy.
bool channelByChannel(const ChannelLayout& L) { return L.inner > 1 && L.channels >= 2 * numThreads(); }

// Per-channel affine map y = (x - mean) * scale + shift, from the statistics and the optional weight / bias.
struct Normalisation {
  Tensor saveMean, saveInvStd;            // (C): what the backward pass needs
  std::vector<float> mean, scale, shift;  // (C)
};

// y = (x - mean) * scale + shift (+ residual) (then ReLU) over one plane of channel c (at start) or rows.
void normalisePlane(const BatchNormKernels& k, const ChannelLayout& L, const float* x, const float* residual,
                    const Normalisation& norm, bool relu, int64_t c, int64_t start, float* y) {
  k.normaliseRun(x + start, residual != nullptr ? residual + start : nullptr, y + start, L.inner, norm.mean[c],
                 norm.scale[c], norm.shift[c], relu);
}

// y = batchNorm(x) (+ residual) (then ReLU), residual (when given) and y in x's format. Training: one pass
// for the statistics (per channel, sums of d = x - shift and d^2 with shift = the channel's first
// value), which also updates the running statistics, and one that normalises; channel by channel
// where channelByChannel says so.
BatchNormResult normaliseForward(const char* op, const Tensor& x, const float* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor* runningMean, Tensor* runningVar, bool training,
                                 double momentum, double eps, bool relu) {
  checkBatchNormForward(op, Device::CPU, x, weight, bias, runningMean, runningVar, training, momentum, eps);
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels, n = L.perChannel();
  const BatchNormKernels& k = batchNormKernels();
  const float* xData = x.f32();
  Tensor y = empty(x.shape, DType::Float32, x.format);
  float* yData = y.f32();
  Normalisation norm{empty({C}), empty({C}), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C)};

  // Channel c's normalisation from its mean and biased variance; in training the running statistics too.
  const auto finish = [&](int64_t c, double mean, double var) {
    if (training && runningMean != nullptr) {
      float* runMean = runningMean->f32();
      float* runVar = runningVar->f32();
      const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      runMean[c] = static_cast<float>((1 - momentum) * runMean[c] + momentum * mean);
      runVar[c] = static_cast<float>((1 - momentum) * runVar[c] + momentum * var * unbias);
    }
    const double invStd = 1.0 / std::sqrt(var + eps);
    norm.saveMean.f32()[c] = norm.mean[c] = static_cast<float>(mean);
    norm.saveInvStd.f32()[c] = static_cast<float>(invStd);
    norm.scale[c] = static_cast<float>(invStd * (weight != nullptr ? weight->f32()[c] : 1.0f));
    norm.shift[c] = bias != nullptr ? bias->f32()[c] : 0.0f;
  };
  if (!training) {
    for (int64_t c = 0; c < C; ++c) finish(c, runningMean->f32()[c], runningVar->f32()[c]);
  } else {
    std::vector<double> shift(static_cast<size_t>(C));  // (C)
    for (int64_t c = 0; c < C; ++c) shift[c] = xData[c * L.inner];
    const auto finishFromSums = [&](int64_t c, const std::array<double, 2>& sums) {
      const double meanD = sums[0] / static_cast<double>(n);
      finish(c, shift[c] + meanD, std::max(0.0, sums[1] / static_cast<double>(n) - meanD * meanD));
    };
    const auto planeStats = [&](int64_t c, int64_t start, int64_t len, double* s0, double* s1) {
      k.runStats(xData + start, len, shift[c], s0, s1);
    };
    if (channelByChannel(L)) {
      parallelFor(0, C, 1, [&](int64_t cBegin, int64_t cEnd) {
        for (int64_t c = cBegin; c < cEnd; ++c) {
          finishFromSums(c, channelSums(L, c, planeStats));
          for (int64_t o = L.outer - 1; o >= 0; --o)
            normalisePlane(k, L, xData, residual, norm, relu, c, (o * C + c) * L.inner, yData);
        }
      });
      return {y, norm.saveMean, norm.saveInvStd};
    }
    const auto sums = pairSums(L, planeStats, [&](int64_t rowBegin, int64_t rowEnd, double* p0, double* p1) {
      k.rowStats(xData + rowBegin * C, rowEnd - rowBegin, C, shift.data(), p0, p1);
    });
    for (int64_t c = 0; c < C; ++c) finishFromSums(c, sums[c]);
  }
  forEachPart(
      L, [&](int64_t c, int64_t start) { normalisePlane(k, L, xData, residual, norm, relu, c, start, yData); },
      [&](int64_t rowBegin, int64_t rowEnd) {
        const int64_t start = rowBegin * C;
        k.normaliseRows(xData + start, residual != nullptr ? residual + start : nullptr, yData + start,
                        rowEnd - rowBegin, C, norm.mean.data(), norm.scale.data(), norm.shift.data(), relu);
      });
  return {y, norm.saveMean, norm.saveInvStd};
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

// Per-channel {sum of g, sum of g * (x - mean)}, g read from src; with src.masked set, g is also stored there.
std::vector<std::array<double, 2>> gradSums(const GradSource& src, const Tensor& x, const float* mean) {
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels;
  const float* xData = x.f32();
  const std::vector<double> meanD(mean, mean + C);  // (C)
  const BatchNormKernels& k = batchNormKernels();
  return pairSums(
      L,
      [&](int64_t c, int64_t start, int64_t len, double* s0, double* s1) {
        k.runSums(src.dy + start, src.relu != nullptr ? src.relu + start : nullptr, xData + start,
                  src.masked != nullptr ? src.masked + start : nullptr, len, meanD[c], s0, s1);
      },
      [&](int64_t rowBegin, int64_t rowEnd, double* p0, double* p1) {
        const int64_t start = rowBegin * C;
        k.rowSums(src.dy + start, src.relu != nullptr ? src.relu + start : nullptr, xData + start,
                  src.masked != nullptr ? src.masked + start : nullptr, rowEnd - rowBegin, C, meanD.data(), p0, p1);
      });
}

// Backward of y = (x - mean) * invStd * weight + bias with dL/dy read from src; x, saveMean and saveInvStd
// must already be checked. One reduction pass (when dweight, dbias or a training dx is wanted) and one
// pass for dx, channel by channel where channelByChannel says so; src.masked, when set, is filled during
// the first pass that runs (or a pass of its own).
NormGrads normBackward(const Tensor& x, const Tensor* weight, const Tensor& saveMean, const Tensor& saveInvStd,
                       bool training, bool needDx, bool needDweight, bool needDbias, GradSource src) {
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels;
  const double n = static_cast<double>(L.perChannel());
  const float* mean = saveMean.f32();
  const float* invStd = saveInvStd.f32();
  needDweight = needDweight && weight != nullptr;
  const bool needSums = needDweight || needDbias || (needDx && training);

  NormGrads grads;
  if (needDweight) grads.dweight = empty({C});
  if (needDbias) grads.dbias = empty({C});
  if (needDx) grads.dx = empty(x.shape, DType::Float32, x.format);
  // dx = (g - meanGrad - (x - mean) * xCoef) * gain; in eval mode meanGrad and xCoef are zero.
  std::vector<float> gain(C), meanGrad(C, 0.0f), xCoef(C, 0.0f);  // (C)
  // Channel c's gradients of weight and bias and dx's constants, from sums = {sum of g, sum of g * (x - mean)}.
  const auto finish = [&](int64_t c, const std::array<double, 2>& sums) {
    if (needDweight) grads.dweight.f32()[c] = static_cast<float>(sums[1] * invStd[c]);
    if (needDbias) grads.dbias.f32()[c] = static_cast<float>(sums[0]);
    gain[c] = static_cast<float>(static_cast<double>(invStd[c]) * (weight != nullptr ? weight->f32()[c] : 1.0f));
    if (training) {
      meanGrad[c] = static_cast<float>(sums[0] / n);
      xCoef[c] = static_cast<float>(static_cast<double>(invStd[c]) * invStd[c] * sums[1] / n);
    }
  };
  const BatchNormKernels& k = batchNormKernels();
  const float* xData = x.f32();
  const auto dxPlane = [&](const GradSource& from, int64_t c, int64_t start) {
    k.gradRun(from.dy + start, from.relu != nullptr ? from.relu + start : nullptr, xData + start,
              grads.dx.f32() + start, L.inner, mean[c], meanGrad[c], xCoef[c], gain[c]);
  };

  if (needSums && needDx && channelByChannel(L)) {
    const std::vector<double> meanD(mean, mean + C);  // (C)
    // After the sums, g is read back from src.masked when it was stored there.
    const GradSource stored = src.masked != nullptr ? GradSource{src.masked, nullptr, nullptr} : src;
    parallelFor(0, C, 1, [&](int64_t cBegin, int64_t cEnd) {
      for (int64_t c = cBegin; c < cEnd; ++c) {
        finish(c, channelSums(L, c, [&](int64_t, int64_t start, int64_t len, double* s0, double* s1) {
                 k.runSums(src.dy + start, src.relu != nullptr ? src.relu + start : nullptr, xData + start,
                           src.masked != nullptr ? src.masked + start : nullptr, len, meanD[c], s0, s1);
               }));
        for (int64_t o = L.outer - 1; o >= 0; --o) dxPlane(stored, c, (o * C + c) * L.inner);
      }
    });
    return grads;
  }

  std::vector<std::array<double, 2>> sums(static_cast<size_t>(C), std::array<double, 2>{});  // (C, 2)
  if (needSums) {
    sums = gradSums(src, x, mean);
    if (src.masked != nullptr) src = {src.masked, nullptr, nullptr};  // the masked gradient is now stored: read it back
  } else if (src.masked != nullptr) {
    const float* __restrict dy = src.dy;
    const float* __restrict relu = src.relu;
    float* __restrict masked = src.masked;
    parallelFor(0, x.numel(), kGrainElements, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) masked[i] = relu[i] > 0.0f ? dy[i] : 0.0f;
    });
    src = {src.masked, nullptr, nullptr};
  }
  for (int64_t c = 0; c < C; ++c) finish(c, sums[c]);
  if (!needDx) return grads;
  forEachPart(
      L, [&](int64_t c, int64_t start) { dxPlane(src, c, start); },
      [&](int64_t rowBegin, int64_t rowEnd) {
        const int64_t start = rowBegin * C;
        k.gradRows(src.dy + start, src.relu != nullptr ? src.relu + start : nullptr, xData + start,
                   grads.dx.f32() + start, rowEnd - rowBegin, C, mean, meanGrad.data(), xCoef.data(), gain.data());
      });
  return grads;
}

void checkBackwardArgs(const char* op, const Tensor& dy, const Tensor& x, const Tensor* weight,
                       const Tensor& saveMean, const Tensor& saveInvStd) {
  checkBatchNormBackward(op, Device::CPU, dy, x, weight, saveMean, saveInvStd);
}

// The ReLU tails: y = relu(batchNorm(x) + residual) when residual is given, y = relu(batchNorm(x))
// when it is null.
BatchNormResult reluTailForward(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, Tensor* runningMean, Tensor* runningVar, bool training,
                                double momentum, double eps) {
  checkBatchNormInput(op, Device::CPU, "x", x);
  if (residual != nullptr) {
    expectFloat32(op, "residual", *residual);
    expectShape(op, "residual", *residual, x.shape);
  }
  const Tensor residualLikeX = residual != nullptr ? inFormatOf(*residual, x) : Tensor();
  return normaliseForward(op, x, residual != nullptr ? residualLikeX.f32() : nullptr, weight, bias, runningMean,
                          runningVar, training, momentum, eps, true);
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
  return normaliseForward("batchNorm2d", x, nullptr, weight, bias, runningMean, runningVar, training, momentum, eps,
                          false);
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
