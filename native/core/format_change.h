// How toFormat turns a tensor into another memory format, the same on every device (the CPU's in
// core/tensor.cc, the GPU's in cuda/kernels/convert.cu): a plain copy where both layouts hold the
// same bytes (same format, not 4-D, one channel or a 1x1 image), else each image's (C, H*W)
// matrix (NCHW) transposed to (H*W, C) (NHWC), or back.
#pragma once
#include <cstdint>

#include "tensor.h"

namespace cr {

struct FormatChange {
  bool copy;                   // the bytes stay as they are
  int64_t images, rows, cols;  // otherwise: transpose `images` (rows, cols) matrices
};

inline FormatChange formatChange(const Tensor& t, MemoryFormat format) {
  if (t.format == format || t.dim() != 4 || t.shape[1] == 1 || t.shape[2] * t.shape[3] == 1) return {true, 0, 0, 0};
  int64_t c = t.shape[1], hw = t.shape[2] * t.shape[3];
  bool toLast = format == MemoryFormat::ChannelsLast;
  return {false, t.shape[0], toLast ? c : hw, toLast ? hw : c};
}

// fn(T{}) with T the unsigned integer type as wide as one element of `dtype` (a transpose moves
// elements as raw bits).
template <typename F>
void byElementWidth(DType dtype, F&& fn) {
  switch (dtypeSize(dtype)) {
    case 1: fn(uint8_t{}); break;
    case 2: fn(uint16_t{}); break;
    case 4: fn(uint32_t{}); break;
    default: fn(uint64_t{}); break;
  }
}

}  // namespace cr
