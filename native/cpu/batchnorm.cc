#include "batchnorm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "../core/error.h"
#include "../core/parallel.h"

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
  if (x.dim() == 2) return {x.shape[0], x.shape[1], 1};
  int64_t planeSize = x.shape[2] * x.shape[3];
  if (x.format == MemoryFormat::ChannelsLast) return {x.shape[0] * planeSize, x.shape[1], 1};
  return {x.shape[0], x.shape[1], planeSize};
}

// Per-channel sums of K terms: term(c, index, acc) adds element `index` (of channel c) into acc[0 .. K).
// The summation order depends only on the layout, never on the thread count.
template <int K, typename Term>
std::vector<std::array<double, K>> channelSums(const ChannelLayout& L, const Term& term) {
  const int64_t C = L.channels;
  std::vector<std::array<double, K>> sums(static_cast<size_t>(C), std::array<double, K>{});  // (C, K)
  if (L.inner > 1) {
    // Element i of a plane goes to lane i % kLanes (the tail to lane 0): independent chains of additions.
    constexpr int64_t kLanes = 8;
    parallelFor(0, C, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, L.perChannel())),
                [&](int64_t cBegin, int64_t cEnd) {
                  for (int64_t c = cBegin; c < cEnd; ++c) {
                    std::array<std::array<double, K>, kLanes> lanes{};  // (kLanes, K)
                    for (int64_t o = 0; o < L.outer; ++o) {
                      const int64_t planeStart = (o * C + c) * L.inner;
                      int64_t i = 0;
                      for (; i + kLanes <= L.inner; i += kLanes)
                        for (int64_t lane = 0; lane < kLanes; ++lane)
                          term(c, planeStart + i + lane, lanes[lane].data());
                      for (; i < L.inner; ++i) term(c, planeStart + i, lanes[0].data());
                    }
                    for (int64_t lane = 0; lane < kLanes; ++lane)
                      for (int k = 0; k < K; ++k) sums[c][k] += lanes[lane][k];
                  }
                });
    return sums;
  }
  // Rows of C values: each block of rows sums into its own partials, which are then added in block order.
  const int64_t rowsPerBlock = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, C));
  const int64_t blocks = (L.outer + rowsPerBlock - 1) / rowsPerBlock;
  // (blocks, C, K)
  std::vector<std::array<double, K>> partials(static_cast<size_t>(blocks * C), std::array<double, K>{});
  parallelFor(0, blocks, 1, [&](int64_t blockBegin, int64_t blockEnd) {
    for (int64_t block = blockBegin; block < blockEnd; ++block) {
      std::array<double, K>* acc = &partials[block * C];
      const int64_t rowEnd = std::min(L.outer, (block + 1) * rowsPerBlock);
      for (int64_t row = block * rowsPerBlock; row < rowEnd; ++row)
        for (int64_t c = 0; c < C; ++c) term(c, row * C + c, acc[c].data());
    }
  });
  for (int64_t block = 0; block < blocks; ++block)
    for (int64_t c = 0; c < C; ++c)
      for (int k = 0; k < K; ++k) sums[c][k] += partials[block * C + c][k];
  return sums;
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

void checkInput(const char* op, const char* name, const Tensor& x) {
  expectFloat32(op, name, x);
  CR_CHECK_RANGE(x.dim() == 2 || x.dim() == 4, op, ": ", name, " must be (N, C) or (N, C, H, W), got shape ",
                 shapeString(x.shape));
}

void checkPerChannel(const char* op, const char* name, const Tensor* t, int64_t channels) {
  if (t == nullptr) return;
  expectFloat32(op, name, *t);
  expectShape(op, name, *t, {channels});
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
  checkInput(op, "x", x);
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels, n = L.perChannel();
  checkPerChannel(op, "weight", weight, C);
  checkPerChannel(op, "bias", bias, C);
  checkPerChannel(op, "runningMean", runningMean, C);
  checkPerChannel(op, "runningVar", runningVar, C);
  CR_CHECK_RANGE(eps > 0 && std::isfinite(eps), op, ": eps must be a positive finite number, got ", eps);
  CR_CHECK_RANGE(momentum >= 0 && momentum <= 1, op, ": momentum must be in [0, 1], got ", momentum);
  CR_CHECK_TYPE((runningMean == nullptr) == (runningVar == nullptr), op,
                ": runningMean and runningVar must be given together");
  CR_CHECK_TYPE(training || runningMean != nullptr, op, ": eval mode needs runningMean and runningVar");
  CR_CHECK_RANGE(!training || n > 1, op, ": expected more than 1 value per channel when training, got input shape ",
                 shapeString(x.shape));

  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));  // (C)
  if (training) {
    const float* xData = x.f32();
    auto sums = channelSums<1>(L, [&](int64_t, int64_t i, double* acc) { acc[0] += xData[i]; });
    for (int64_t c = 0; c < C; ++c) mean[c] = sums[c][0] / static_cast<double>(n);
    auto squares = channelSums<1>(L, [&](int64_t c, int64_t i, double* acc) {
      const double centred = xData[i] - mean[c];
      acc[0] += centred * centred;
    });
    for (int64_t c = 0; c < C; ++c) var[c] = squares[c][0] / static_cast<double>(n);
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

// Backward of y = (x - mean) * invStd * weight + bias given gradOut(index) = dL/dy; x, saveMean and saveInvStd
// must already be checked.
template <typename GradOut>
NormGrads normBackward(const Tensor& x, const Tensor* weight, const Tensor& saveMean, const Tensor& saveInvStd,
                       bool training, bool needDx, bool needDweight, bool needDbias, const GradOut& gradOut) {
  const ChannelLayout L = layoutOf(x);
  const int64_t C = L.channels;
  const double n = static_cast<double>(L.perChannel());
  const float* xData = x.f32();
  const float* mean = saveMean.f32();
  const float* invStd = saveInvStd.f32();
  needDweight = needDweight && weight != nullptr;

  // sums[c] = {sum of dL/dy, sum of dL/dy * (x - mean)} over channel c.
  std::vector<std::array<double, 2>> sums;
  if (needDweight || needDbias || (needDx && training)) {
    sums = channelSums<2>(L, [&](int64_t c, int64_t i, double* acc) {
      const double g = gradOut(i);
      acc[0] += g;
      acc[1] += g * (static_cast<double>(xData[i]) - mean[c]);
    });
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
  float* dx = grads.dx.f32();
  forEachElement(L, [&](int64_t c, int64_t i) {
    dx[i] = (gradOut(i) - meanGrad[c] - (xData[i] - mean[c]) * xCoef[c]) * gain[c];
  });
  return grads;
}

void checkBackwardArgs(const char* op, const Tensor& dy, const Tensor& x, const Tensor* weight,
                       const Tensor& saveMean, const Tensor& saveInvStd) {
  checkInput(op, "x", x);
  expectFloat32(op, "dy", dy);
  expectShape(op, "dy", dy, x.shape);
  const int64_t C = x.shape[1];
  checkPerChannel(op, "weight", weight, C);
  checkPerChannel(op, "saveMean", &saveMean, C);
  checkPerChannel(op, "saveInvStd", &saveInvStd, C);
}

}  // namespace

BatchNormResult batchNormForward(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                                 Tensor* runningVar, bool training, double momentum, double eps) {
  Normalisation norm =
      normalisation("batchNorm", x, weight, bias, runningMean, runningVar, training, momentum, eps);
  Tensor y = empty(x.shape, DType::Float32, x.format);
  const float* xData = x.f32();
  float* yData = y.f32();
  forEachElement(layoutOf(x), [&](int64_t c, int64_t i) {
    yData[i] = (xData[i] - norm.mean[c]) * norm.scale[c] + norm.shift[c];
  });
  return {y, norm.saveMean, norm.saveInvStd};
}

BatchNormGrads batchNormBackward(const Tensor& dy, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                                 const Tensor& saveInvStd, bool training, bool needDx, bool needDweight,
                                 bool needDbias) {
  checkBackwardArgs("batchNormBackward", dy, x, weight, saveMean, saveInvStd);
  const Tensor dyLikeX = inFormatOf(dy, x);
  const float* dyData = dyLikeX.f32();
  NormGrads g = normBackward(x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias,
                             [dyData](int64_t i) { return dyData[i]; });
  return {g.dx, g.dweight, g.dbias};
}

BatchNormResult bnAddReluForward(const Tensor& x, const Tensor& residual, const Tensor* weight, const Tensor* bias,
                                 Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps) {
  const char* op = "bnAddRelu";
  checkInput(op, "x", x);
  expectFloat32(op, "residual", residual);
  expectShape(op, "residual", residual, x.shape);
  Normalisation norm = normalisation(op, x, weight, bias, runningMean, runningVar, training, momentum, eps);
  const Tensor residualLikeX = inFormatOf(residual, x);
  Tensor y = empty(x.shape, DType::Float32, x.format);
  const float* xData = x.f32();
  const float* rData = residualLikeX.f32();
  float* yData = y.f32();
  forEachElement(layoutOf(x), [&](int64_t c, int64_t i) {
    const float sum = (xData[i] - norm.mean[c]) * norm.scale[c] + norm.shift[c] + rData[i];
    yData[i] = sum < 0.0f ? 0.0f : sum;  // NaN passes through, as torch.relu
  });
  return {y, norm.saveMean, norm.saveInvStd};
}

BnAddReluGrads bnAddReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                                 const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                                 bool needDresidual, bool needDweight, bool needDbias) {
  const char* op = "bnAddReluBackward";
  checkBackwardArgs(op, dy, x, weight, saveMean, saveInvStd);
  expectFloat32(op, "y", y);
  expectShape(op, "y", y, x.shape);
  const Tensor dyLikeX = inFormatOf(dy, x);
  const Tensor yLikeX = inFormatOf(y, x);
  const float* dyData = dyLikeX.f32();
  const float* yData = yLikeX.f32();
  BnAddReluGrads grads;
  NormGrads g;
  if (needDresidual) {
    // dresidual is the gradient reaching the sum; the normalisation backward reads it back.
    grads.dresidual = empty(x.shape, DType::Float32, x.format);
    float* dres = grads.dresidual.f32();
    forEachElement(layoutOf(x), [&](int64_t, int64_t i) { dres[i] = yData[i] > 0.0f ? dyData[i] : 0.0f; });
    g = normBackward(x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias,
                     [dres](int64_t i) { return dres[i]; });
  } else {
    g = normBackward(x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias,
                     [dyData, yData](int64_t i) { return yData[i] > 0.0f ? dyData[i] : 0.0f; });
  }
  grads.dx = g.dx;
  grads.dweight = g.dweight;
  grads.dbias = g.dbias;
  return grads;
}

}  // namespace cr
