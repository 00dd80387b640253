// Copies that move elements between tensors: concatenation (Dense blocks), narrowing (its
// gradient) and the option-A shortcut of the CIFAR ResNets (strided subsample + zero channels).
#pragma once
#include "../core/tensor.h"

namespace cr {

// dim in [-rank, rank) made non-negative; RangeError naming op otherwise.
int64_t normaliseDim(const char* op, int64_t dim, int64_t rank);
// concat's checks, shared with its CUDA twin: float32 tensors on `device`, one rank, equal sizes
// except along dim. Makes dim non-negative and returns the output shape.
Shape concatShape(const std::vector<Tensor>& parts, int64_t& dim, Device device);
// Concatenates same-rank float32 tensors along `dim`; all other sizes must agree.
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
// x.narrow(dim, start, length) as a copy.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// narrow's checks, shared with its CUDA twin: x float32 on `device`, the range inside dim.
// Returns dim made non-negative.
int64_t narrowDim(const Tensor& x, int64_t dim, int64_t start, int64_t length, Device device);

// The option-A shortcut's sizes: input (N, C, H, W), output (N, outChannels, Ho, Wo), and the
// zero channels before the copied ones.
struct ShortcutAShape {
  int64_t n, c, h, w, outChannels, ho, wo, before;
};
// shortcutA's checks, shared with its CUDA twin (x float32 4-D on `device`, stride >= 1,
// outChannels >= C), and its sizes.
ShortcutAShape shortcutAShape(const Tensor& x, int64_t outChannels, int64_t stride, Device device);
// The same for its backward: dy (N, outChannels, Ho, Wo) float32 on `device` for an input of xShape.
ShortcutAShape shortcutABackwardShape(const Tensor& dy, const Shape& xShape, int64_t stride, Device device);
// x: (N, C, H, W) -> (N, outChannels, ceil(H / stride), ceil(W / stride)): y = x[:, :, ::stride, ::stride]
// with (outChannels - C) / 2 zero channels before and the rest after.
Tensor shortcutA(const Tensor& x, int64_t outChannels, int64_t stride);
// dy: (N, outChannels, Ho, Wo) -> dx: (N, C, H, W)
Tensor shortcutABackward(const Tensor& dy, const Shape& xShape, int64_t stride);

}  // namespace cr
