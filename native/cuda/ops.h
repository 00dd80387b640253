// Every op on CUDA tensors, with the signatures and semantics of its CPU twin in native/cpu/
// (same parameter structs, same output shapes, dtypes and memory formats, same errors). The
// N-API layer calls these when the inputs live on the GPU; each is checked against the CPU op
// in test/cuda_ops.test.ts.
#pragma once
#include "../core/tensor.h"
#include "../ops/amp.h"
#include "../ops/batchnorm.h"
#include "../ops/conv2d.h"
#include "../ops/conv_bn_stats.h"
#include "../ops/elementwise.h"
#include "../ops/loss.h"
#include "../ops/pool.h"
#include "../ops/adam.h"
#include "../ops/sgd.h"

namespace cr::cuda {

// conv2d.cc (cuDNN): algorithms from cuDNN's search, cached per shape.
// convBiasAct: cudnnConvolutionBiasActivationForward where cuDNN supports the configuration, else
// conv2d then the project's kernels.
#include "../ops/conv2d_ops.inc"
// conv_bn_stats.cc (cuDNN graph API): the fused prologue + convolution + output statistics for
// float16 / bfloat16 channels-last data; other calls, and configurations no engine runs, come back
// with `unsupported` set (the caller composes the op instead).
ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p);
// TF32 tensor-op math for convolutions and matmul (off by default: results then match float32).
void setAllowTf32(bool allow);
bool allowTf32();

// batchnorm.cc (cuDNN) + kernels/add_relu.cu
// bnRelu: the fused kernels of kernels/bn_fused.h when they are selected (training), else batchNorm2d
// then relu (backward: reluBackward then batchNorm2dBackward).
#include "../ops/batchnorm_ops.inc"

// kernels/pool.cu
#include "../ops/pool_ops.inc"

// kernels/elementwise.cu, kernels/reduce.cu
#include "../ops/elementwise_ops.inc"

// kernels/shape_ops.cu
#include "../ops/shape_ops_ops.inc"

// kernels/convert.cu: dtype casts (float16 / bfloat16 round to nearest even) and NCHW <-> NHWC.
Tensor cast(const Tensor& t, DType dtype);
Tensor toFormat(const Tensor& t, MemoryFormat format);

// matmul.cc (cuBLAS)
#include "../ops/matmul_ops.inc"

// kernels/loss.cu
#include "../ops/loss_ops.inc"

// kernels/sgd.cu (sgdStepMulti: kernels/sgd_multi.h, one launch per 64 tensors), kernels/adam.cu
#include "../ops/sgd_ops.inc"
#include "../ops/adam_ops.inc"

// kernels/amp.cu
#include "../ops/amp_ops.inc"

// kernels/random.cu
#include "../ops/random_ops.inc"

}  // namespace cr::cuda
