// Copies that move elements between tensors: concatenation (Dense blocks), narrowing (its
// gradient) and the option-A shortcut of the CIFAR ResNets (strided subsample + zero channels).
// Their contracts, shared with the GPU: ops/shape_ops.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/shape_ops.h"

namespace cr {

// Concatenates same-rank float32 tensors along `dim`; all other sizes must agree.
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
// x.narrow(dim, start, length) as a copy.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);

// x: (N, C, H, W) -> (N, outChannels, ceil(H / stride), ceil(W / stride)): y = x[:, :, ::stride, ::stride]
// with (outChannels - C) / 2 zero channels before and the rest after.
Tensor shortcutA(const Tensor& x, int64_t outChannels, int64_t stride);
// dy: (N, outChannels, Ho, Wo) -> dx: (N, C, H, W)
Tensor shortcutABackward(const Tensor& dy, const Shape& xShape, int64_t stride);

}  // namespace cr
