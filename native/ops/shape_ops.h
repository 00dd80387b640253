// The contracts of concat, narrow and the option-A shortcut, the same on every device
// (cpu/shape_ops.cc and cuda/kernels/shape_ops.cu check with them): argument checks and sizes.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/tensor.h"

namespace cr {

// dim in [-rank, rank) made non-negative; RangeError naming op otherwise.
int64_t normaliseDim(const char* op, int64_t dim, int64_t rank);
// concat's checks, shared with its CUDA twin: float32 tensors on `device`, one rank, equal sizes
// except along dim. Makes dim non-negative and returns the output shape.
Shape concatShape(const std::vector<Tensor>& parts, int64_t& dim, Device device);
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

}  // namespace cr
