// A convolution that also applies the previous batch norm to its input and gathers the next batch
// norm's statistics of its output (the "ConvBNfprop" pattern), forward only:
//   z = x * scale + bias (per input channel, each optional), then max(0, z) when relu;
//   y = conv2d(z, weight) with the conv2d parameters (no convolution bias);
//   sum[o] = Σ y[n, o, h, w] and sqSum[o] = Σ y[n, o, h, w]² over (N, Ho, Wo), float32.
// The CPU op is that composition (statistics accumulated in double); the CUDA twin
// (native/cuda/conv_bn_stats.cc) runs it as one cuDNN graph when an engine supports the
// configuration and otherwise reports it unsupported, leaving the composition to its caller. The
// gradients are composed from existing ops by the caller (lib/ops/grad.ts).
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

// x, weight, scale, bias float32 on the CPU.
ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p);

}  // namespace cr
