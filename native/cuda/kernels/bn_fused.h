// Single-pass batch-norm kernels for training (native/cuda/kernels/bn_fused.cu): the batch
// statistics, the normalisation and the residual tail y = relu(batchNorm(x) + residual) of
// native/cuda/batchnorm.cc without cuDNN, for float32 (N, C, H, W) tensors stored NCHW or NHWC and
// (N, C) tensors. Each op is one reduction pass over its inputs (per-block partial sums in double,
// then a per-channel pass that adds them in a fixed order, so results are the same run after run)
// followed by one element-wise pass; NHWC rows are read a channel per thread (coalesced), and
// 16-byte vectors are used where the channel (NHWC) or plane (NCHW) length is a multiple of 4 and
// the data is 16-byte aligned. Semantics and rounding follow the CPU op in native/cpu/batchnorm.cc:
// biased variance for normalising, unbiased for runningVar, running = (1 - momentum) * running +
// momentum * stat, saveMean / saveInvStd = mean and 1 / sqrt(var + eps).
// Host functions on device tensors, run on the backend's stream; arguments are checked by the
// callers (batchnorm.cc), which also keep the cuDNN path for eval mode and when it is selected.
#pragma once
#include "../../core/tensor.h"
#include "../../ops/batchnorm.h"

namespace cr::cuda {

// Which kernels the training-mode GPU batch-norm ops use: these (true) or cuDNN's batch-norm API
// (false). The default comes from the environment variable CUDNN_RESNET_BN: 'cudnn' selects
// cuDNN; unset, empty, 'fused' or any other value selects these kernels. Process-wide.
void setBatchNormKernels(bool fused);
bool batchNormKernelsFused();

// Training forward with batch statistics: y = (x - mean) * invStd * weight + bias, plus residual
// when given (same shape as x, any memory format), then max(0, .) when relu (NaN passes through).
// weight / bias null count as ones / zeros; runningMean / runningVar (both or neither) are updated
// in place. y has x's shape and memory format; saveMean and saveInvStd are (C).
BatchNormResult bnFusedForward(const Tensor& x, const Tensor* residual, bool relu, const Tensor* weight,
                               const Tensor* bias, Tensor* runningMean, Tensor* runningVar, double momentum,
                               double eps);

// Training backward of bnFusedForward. With y (the forward output, any memory format) the
// gradient reaching the normalisation is dz = y > 0 ? dy : 0 (the relu tail), without it dz = dy.
// dresidual = dz, dbias = sum(dz), dweight = sum(dz * xhat) with xhat = (x - mean) * invStd, and
// dx = weight * invStd * (dz - mean(dz) - xhat * mean(dz * xhat)). Only the requested outputs are
// made (dweight only with a weight); dx and dresidual have x's shape and memory format.
BnAddReluGrads bnFusedBackward(const Tensor& dy, const Tensor* y, const Tensor& x, const Tensor* weight,
                               const Tensor& saveMean, const Tensor& saveInvStd, bool needDx, bool needDresidual,
                               bool needDweight, bool needDbias);

}  // namespace cr::cuda
