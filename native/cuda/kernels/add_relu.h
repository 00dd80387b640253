// Kernels of the GPU batch-norm ops (native/cuda/batchnorm.cc): the residual add + ReLU of
// bnAddRelu and its gradient mask, and the per-channel pieces cuDNN's batch-norm API leaves to the
// caller (eval-mode statistics and gradients, constant scale / shift vectors), each matching the
// CPU twin in native/cpu/batchnorm.cc. Host functions on float32 device tensors, run on the
// backend's stream; arguments are checked by the callers. A 2-D (N, C) tensor counts as
// (N, C, 1, 1); 4-D tensors may be stored NCHW or NHWC and are indexed logically.
#pragma once
#include "../../core/tensor.h"

namespace cr::cuda {

// y = relu(y + residual) in place (NaN passes through, as torch.relu); residual has y's shape.
void addReluInPlace(Tensor& y, const Tensor& residual);

// The gradient reaching the sum of y = relu(sum): y > 0 ? dy : 0, stored in `format`.
Tensor reluGradient(const Tensor& dy, const Tensor& y, MemoryFormat format);

// A float32 (n) tensor filled with `value`.
Tensor filled(int64_t n, float value);

// Eval-mode statistics as the CPU op reports them: saveMean = runningMean and
// saveInvStd = 1 / sqrt(runningVar + eps), computed in double and rounded to float. Outputs (C).
void evalStatistics(const Tensor& runningMean, const Tensor& runningVar, double eps, Tensor& saveMean,
                    Tensor& saveInvStd);

// Per-channel sums of the gradient g (x's shape and format), in double: dbias = sum(g) and
// dweight = sum(g * (x - mean)) * invStd. Only the requested ones are made (empty otherwise).
struct ChannelGrads { Tensor dweight, dbias; };
ChannelGrads channelGrads(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invStd,
                          bool needDweight, bool needDbias);

// The eval-mode input gradient, with the statistics constant: dx = g * (weight * invStd) per
// channel (weight null counts as 1), g and dx in x's format; computed as the CPU computes it, so a
// non-finite x - mean gives NaN there too.
Tensor evalInputGradient(const Tensor& g, const Tensor& x, const Tensor* weight, const Tensor& mean,
                         const Tensor& invStd);

}  // namespace cr::cuda
