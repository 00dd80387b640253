// Every op on CUDA tensors, with the signatures and semantics of its CPU twin in native/cpu/
// (same parameter structs, same output shapes, dtypes and memory formats, same errors). The
// N-API layer calls these when the inputs live on the GPU; each is checked against the CPU op
// in test/cuda_ops.test.ts.
#pragma once
#include "../core/tensor.h"
#include "../ops/amp.h"
#include "../ops/batchnorm.h"
#include "../cpu/conv2d.h"
#include "../cpu/conv_bn_stats.h"
#include "../ops/elementwise.h"
#include "../ops/loss.h"
#include "../ops/pool.h"
#include "../ops/adam.h"
#include "../ops/sgd.h"

namespace cr::cuda {

// conv2d.cc (cuDNN): algorithms from cuDNN's search, cached per shape.
Tensor conv2dForward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p);
Conv2dGrads conv2dBackward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Conv2dParams& p,
                           bool needDx, bool needDweight, bool needDbias);
// conv_bn_stats.cc (cuDNN graph API): the fused prologue + convolution + output statistics for
// float16 / bfloat16 channels-last data; other calls, and configurations no engine runs, come back
// with `unsupported` set (the caller composes the op instead).
ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p);
// conv2d.cc: act(conv + bias + z) with cudnnConvolutionBiasActivationForward where cuDNN supports the
// configuration, else conv2dForward then the project's kernels. Forward only (inference).
Tensor convBiasActForward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* z, bool relu,
                          const Conv2dParams& p);
// TF32 tensor-op math for convolutions and matmul (off by default: results then match float32).
void setAllowTf32(bool allow);
bool allowTf32();

// batchnorm.cc (cuDNN) + kernels/add_relu.cu
BatchNormResult batchNorm2d(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                                 Tensor* runningVar, bool training, double momentum, double eps);
BatchNormGrads batchNorm2dBackward(const Tensor& dy, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                                 const Tensor& saveInvStd, bool training, bool needDx, bool needDweight, bool needDbias);
BatchNormResult bnAddRelu(const Tensor& x, const Tensor& residual, const Tensor* weight, const Tensor* bias,
                                 Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps);
BnAddReluGrads bnAddReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                                 const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                                 bool needDresidual, bool needDweight, bool needDbias);
// bn_relu.cc: y = relu(batchNorm(x)) with the fused kernels of kernels/bn_fused.h when they are
// selected (training), else batchNorm2d then relu (backward: reluBackward then batchNorm2dBackward).
BatchNormResult bnRelu(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                              Tensor* runningVar, bool training, double momentum, double eps);
BatchNormGrads bnReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                              const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                              bool needDweight, bool needDbias);

// kernels/pool.cu
MaxPoolResult maxPool2d(const Tensor& x, const Pool2dParams& p);
Tensor maxPool2dBackward(const Tensor& dy, const Tensor& argmax, const Shape& xShape);
Tensor avgPool2d(const Tensor& x, const Pool2dParams& p);
Tensor avgPool2dBackward(const Tensor& dy, const Shape& xShape, const Pool2dParams& p);
Tensor adaptiveAvgPool2d(const Tensor& x, int64_t outH, int64_t outW);
Tensor adaptiveAvgPool2dBackward(const Tensor& dy, const Shape& xShape);

// kernels/elementwise.cu, kernels/reduce.cu
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor affine(const Tensor& x, double scale, double shift);
Tensor relu(const Tensor& x);
Tensor reluBackward(const Tensor& dy, const Tensor& y);
Tensor sigmoid(const Tensor& x);
Tensor sigmoidBackward(const Tensor& dy, const Tensor& y);
Tensor broadcastTo(const Tensor& x, const Shape& shape);
Tensor sumTo(const Tensor& x, const Shape& shape);
Tensor reduceSum(const Tensor& x, const std::vector<int64_t>& dims, bool keepDim);
Tensor full(const Shape& shape, double value, DType dtype);
void increment(Tensor& t);

// kernels/shape_ops.cu
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor shortcutA(const Tensor& x, int64_t outChannels, int64_t stride);
Tensor shortcutABackward(const Tensor& dy, const Shape& xShape, int64_t stride);

// kernels/convert.cu: dtype casts (float16 / bfloat16 round to nearest even) and NCHW <-> NHWC.
Tensor cast(const Tensor& t, DType dtype);
Tensor toFormat(const Tensor& t, MemoryFormat format);

// matmul.cc (cuBLAS)
Tensor matmul(const Tensor& a, const Tensor& b, bool transA, bool transB);

// kernels/loss.cu, kernels/sgd.cu, kernels/random.cu
CrossEntropyResult crossEntropy(const Tensor& logits, const Tensor& labels, double labelSmoothing,
                                       bool checkLabels = true);
Tensor crossEntropyBackward(const Tensor& gradOutput, const Tensor& probs, const Tensor& labels, double labelSmoothing);
void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o);
void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o);  // kernels/sgd_multi.h: one launch per 64 tensors
void adamStep(Tensor& param, const Tensor& grad, Tensor& expAvg, Tensor& expAvgSq, const AdamOptions& o);  // kernels/adam.cu
// kernels/amp.cu: grads *= invScale in place; true when any element is not finite.
bool unscaleGrads(const std::vector<Tensor*>& grads, double invScale);
void unscaleGradsBy(const std::vector<Tensor*>& grads, const ScalerState& s);
void updateScaleState(const ScalerState& s, double growthFactor, double backoffFactor, int64_t growthInterval);
// The same counter-based streams as the CPU fills: a seed gives the same values on both devices.
Tensor randomUniform(const Shape& shape, uint64_t seed, double low, double high);
Tensor randomNormal(const Shape& shape, uint64_t seed, double mean, double stddev);

}  // namespace cr::cuda
