// Batch normalisation over the channel dimension, the fused y = relu(batchNorm(x)) and the fused
// residual block tail y = relu(batchNorm(x) + residual), forward and backward, float32 on the CPU.
// x is (N, C, H, W) in either memory format, or (N, C); every output that has x's shape (y, dx,
// dresidual) has x's memory format. Per-channel tensors are (C). Statistics accumulate in double.
// The contract (checks, result structs), shared with the GPU: ops/batchnorm.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/batchnorm.h"

namespace cr {

#include "../ops/batchnorm_ops.inc"

}  // namespace cr
