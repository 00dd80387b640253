// Batch normalisation over the channel dimension, the fused y = relu(batchNorm(x)) and the fused
// residual block tail y = relu(batchNorm(x) + residual), forward and backward, float32 on the CPU.
// x is (N, C, H, W) in either memory format, or (N, C); every output that has x's shape (y, dx,
// dresidual) has x's memory format. Per-channel tensors are (C). Statistics accumulate in double.
// The contract (checks, result structs), shared with the GPU: ops/batchnorm.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/batchnorm.h"

namespace cr {

// x: (N, C, H, W) or (N, C); weight, bias, runningMean, runningVar: (C) or nullptr.
// Training: normalise with batch statistics (biased variance), and when running stats are given update them
// in place: running = (1 - momentum) * running + momentum * batchStat, using the UNBIASED variance (n / (n - 1))
// for runningVar, exactly as PyTorch. Eval: normalise with runningMean / runningVar (both required).
BatchNormResult batchNorm2d(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                                 Tensor* runningVar, bool training, double momentum, double eps);
// training == true: full batch-statistics backward; false: dx = dy * weight * invStd (statistics constant).
BatchNormGrads batchNorm2dBackward(const Tensor& dy, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                                 const Tensor& saveInvStd, bool training, bool needDx, bool needDweight, bool needDbias);
// y = relu(batchNorm(x) + residual); residual has x's shape. Same running-stat behaviour as batchNorm2d.
BatchNormResult bnAddRelu(const Tensor& x, const Tensor& residual, const Tensor* weight, const Tensor* bias,
                                 Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps);
// y is the forward output (its sign gives the ReLU mask).
BnAddReluGrads bnAddReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                                 const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                                 bool needDresidual, bool needDweight, bool needDbias);

// y = relu(batchNorm(x)). Same arguments, checks and running-stat behaviour as batchNorm2d.
BatchNormResult bnRelu(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                              Tensor* runningVar, bool training, double momentum, double eps);
// y is the forward output (its sign gives the ReLU mask); the other arguments as batchNorm2dBackward.
BatchNormGrads bnReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                              const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                              bool needDweight, bool needDbias);

}  // namespace cr
