// 2-D max, average and adaptive average pooling, forward and backward, float32 on the CPU, as PyTorch
// (the contract, shared with the GPU: ops/pool.h).
// x: (N, C, H, W) in either memory format; a forward output has x's memory format (argmax included), and
// a backward output (dx) has dy's.
#pragma once
#include "../core/tensor.h"
#include "../ops/pool.h"

namespace cr {

MaxPoolResult maxPool2d(const Tensor& x, const Pool2dParams& p);   // padding is -inf; NaN propagates as in PyTorch
Tensor maxPool2dBackward(const Tensor& dy, const Tensor& argmax, const Shape& xShape);
Tensor avgPool2d(const Tensor& x, const Pool2dParams& p);         // countIncludePad as PyTorch (pad counted, window clipped to the padded input)
Tensor avgPool2dBackward(const Tensor& dy, const Shape& xShape, const Pool2dParams& p);
// PyTorch's adaptive_avg_pool2d: window i spans [floor(i*H/Ho), ceil((i+1)*H/Ho)).
Tensor adaptiveAvgPool2d(const Tensor& x, int64_t outH, int64_t outW);
Tensor adaptiveAvgPool2dBackward(const Tensor& dy, const Shape& xShape);

}  // namespace cr
