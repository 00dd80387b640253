// 2-D convolution on the CPU, forward and backward, with PyTorch's semantics
// (torch.nn.functional.conv2d: cross-correlation, zero padding, stride, dilation, groups).
// Inputs may be contiguous (NCHW) or channelsLast (NHWC); y and dx come back in x's format,
// dweight and dbias contiguous. Computed as im2col + sgemm per (image, group).
// The contract (parameters, shape checks, output shape), shared with the GPU: ops/conv2d.h.
#pragma once
#include <cstdint>

#include "../core/tensor.h"
#include "../ops/conv2d.h"

namespace cr {

#include "../ops/conv2d_ops.inc"

}  // namespace cr
