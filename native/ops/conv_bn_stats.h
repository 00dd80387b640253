// convBnStats' contract, the same on every device (cpu/conv_bn_stats.cc and
// cuda/conv_bn_stats.cc): its result and its argument checks.
#pragma once
#include <string>

#include "../core/tensor.h"
#include "conv2d.h"

namespace cr {

// y: (N, O, Ho, Wo) in x's memory format and dtype; sum, sqSum: (O) float32. When the device cannot
// run the op for this configuration, y, sum and sqSum are empty (no storage) and `unsupported` says
// why; it is empty otherwise (the CPU op always runs).
struct ConvBnStatsResult {
  Tensor y, sum, sqSum;
  std::string unsupported;
};

// The checks shared by the CPU op and its CUDA twin: x (N, C, H, W) and weight (O, C / groups, kH,
// kW) 4-D on `device`, scale and bias (C) float32 on `device`, and the conv2d geometry. Returns y's
// shape (N, O, Ho, Wo).
Shape checkConvBnStats(Device device, const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                       const Conv2dParams& p);

}  // namespace cr
