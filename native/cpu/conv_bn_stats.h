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
#include "../ops/conv_bn_stats.h"
#include "conv2d.h"

namespace cr {

// x, weight, scale, bias float32 on the CPU.
ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p);

}  // namespace cr
