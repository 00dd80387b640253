// Batch normalisation on the GPU with cuDNN's batch-norm API (CUDNN_BATCHNORM_SPATIAL: one mean,
// variance, scale and shift per channel) or, in training, the project's fused kernels
// (kernels/bn_fused.cu), with relu(batchNorm(x)) and the fused residual tail y = relu(batchNorm(x) +
// residual): the twins of native/cpu/batchnorm.cc, with the same checks, errors, outputs and
// memory formats (y, dx and dresidual in x's format; per-channel tensors (C)).
//   training forward: cudnnBatchNormalizationForwardTraining. Its exponentialAverageFactor is our
//     momentum (running = (1 - factor) * running + factor * batchStat), it updates runningVar with
//     the unbiased batch variance as PyTorch does, and its resultSaveMean /
//     resultSaveInvVariance are our saveMean / saveInvStd: the batch mean and 1 / sqrt(var + eps).
//   eval forward: cudnnBatchNormalizationForwardInference with the running statistics; saveMean /
//     saveInvStd are the running mean and 1 / sqrt(runningVar + eps), as the CPU op returns them.
//   training backward: cudnnBatchNormalizationBackward with the saved statistics; it always makes
//     dx, dscale and dbias, so it runs only when dx is wanted (unrequested outputs go to scratch).
//   otherwise (eval mode, or no dx): our kernels (kernels/add_relu.cu) give
//     dx = dy * weight * invStd, dweight = sum(dy * (x - mean)) * invStd and dbias = sum(dy).
// cuDNN needs a scale and a shift, so a missing weight / bias becomes ones / zeros for the call.
// A 2-D (N, C) x is described as (N, C, 1, 1): spatial mode then normalises each channel over N.
// Empty tensors never reach cuDNN (its descriptors need positive sizes).
// Training mode goes to our single-pass kernels (kernels/bn_fused.cu) instead of cuDNN when
// batchNormKernelsFused() says so (the default; CUDNN_RESNET_BN=cudnn selects cuDNN), after the
// same checks.
#include <cmath>

#include "../core/error.h"
#include "descriptors.h"
#include "dynload.h"
#include "handles.h"
#include "kernels/add_relu.h"
#include "kernels/bn_fused.h"
#include "kernels/tensor_checks.cuh"
#include "ops.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr dnn::cudnnBatchNormMode_t kMode = dnn::CUDNN_BATCHNORM_SPATIAL;

// The scaling factors of cuDNN calls on float data are host floats.
const float kOne = 1.0f, kZero = 0.0f;

// cuDNN's backward takes the forward's epsilon, but reads it only to recompute the statistics when
// savedMean and savedInvVariance are both null (cuDNN's documentation of
// cudnnBatchNormalizationBackward). Ours are always given, non-null (checked at the call): they hold
// the forward's 1 / sqrt(var + eps), so the forward's eps is already in them and this value is never
// read. It is cuDNN's required minimum or more, so the call accepts it.
constexpr double kUnreadBackwardEpsilon = 1e-5;

const void* dataOf(const Tensor& t) { return t.storage->data; }
void* mutableDataOf(const Tensor& t) { return t.storage->data; }

// The per-channel (1, C, 1, 1) descriptor cuDNN derives from x's, for scale, shift and statistics.
class ChannelDesc {
 public:
  explicit ChannelDesc(const TensorDesc& x) {
    CR_CUDNN_CHECK(dnn::cudnnCreateTensorDescriptor(&desc_));
    try {
      CR_CUDNN_CHECK(dnn::cudnnDeriveBNTensorDescriptor(desc_, x.get(), kMode));
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~ChannelDesc() { destroy(); }
  ChannelDesc(const ChannelDesc&) = delete;
  ChannelDesc& operator=(const ChannelDesc&) = delete;
  dnn::cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  void destroy() noexcept {
    try {
      dnn::cudnnDestroyTensorDescriptor(desc_);
    } catch (...) {
    }
  }
  dnn::cudnnTensorDescriptor_t desc_ = nullptr;
};

// ---- Checks: the CPU op's (cr::checkBatchNorm*), asking for GPU tensors ----

void checkBackwardArgs(const char* op, const Tensor& dy, const Tensor& x, const Tensor* weight,
                       const Tensor& saveMean, const Tensor& saveInvStd) {
  checkBatchNormBackward(op, Device::CUDA, dy, x, weight, saveMean, saveInvStd);
}


// The same tensor when it already has x's layout, otherwise a copy in x's memory format.
Tensor inFormatOf(const Tensor& t, const Tensor& x) { return t.format == x.format ? t : cuda::toFormat(t, x.format); }

Tensor scaleOf(const Tensor* weight, int64_t channels) { return weight != nullptr ? *weight : filled(channels, 1.0f); }
Tensor shiftOf(const Tensor* bias, int64_t channels) { return bias != nullptr ? *bias : filled(channels, 0.0f); }

// ---- Forward ----

// residual: null for batchNorm and bnRelu; for bnAddRelu, y = relu(batchNorm(x) + residual) (residual
// read in its own memory format). relu: bnRelu and bnAddRelu.
BatchNormResult normalise(const char* op, const Tensor& x, const Tensor* residual, bool relu, const Tensor* weight,
                          const Tensor* bias, Tensor* runningMean, Tensor* runningVar, bool training, double momentum,
                          double eps) {
  checkBatchNormForward(op, Device::CUDA, x, weight, bias, runningMean, runningVar, training, momentum, eps);
  const int64_t C = x.shape[1];
  // cuDNN 9's minimum is 0, so every eps the CPU op accepts is accepted here too.
  CR_CHECK_RANGE(eps >= dnn::CUDNN_BN_MIN_EPSILON, op, ": eps must be at least cuDNN's minimum ",
                 dnn::CUDNN_BN_MIN_EPSILON, ", got ", eps);
  if (training && batchNormKernelsFused())
    return bnFusedForward(x, residual, relu, weight, bias, runningMean, runningVar, momentum, eps);

  BatchNormResult result;
  result.y = cuda::empty(x.shape, DType::Float32, x.format);
  if (training) {
    result.saveMean = cuda::empty({C});
    result.saveInvStd = cuda::empty({C});
  } else {
    evalStatistics(*runningMean, *runningVar, eps, result.saveMean, result.saveInvStd);
  }
  if (x.numel() == 0) return result;  // eval mode with an empty batch (training needs n > 1)

  const Tensor scale = scaleOf(weight, C), shift = shiftOf(bias, C);
  const TensorDesc xDesc(x);  // y has x's shape and format: the same descriptor
  const ChannelDesc channelDesc(xDesc);
  if (training) {
    CR_CUDNN_CHECK(dnn::cudnnBatchNormalizationForwardTraining(
        cudnnHandle(), kMode, &kOne, &kZero, xDesc.get(), dataOf(x), xDesc.get(), mutableDataOf(result.y),
        channelDesc.get(), dataOf(scale), dataOf(shift), momentum,
        runningMean != nullptr ? mutableDataOf(*runningMean) : nullptr,
        runningVar != nullptr ? mutableDataOf(*runningVar) : nullptr, eps, mutableDataOf(result.saveMean),
        mutableDataOf(result.saveInvStd)));
  } else {
    CR_CUDNN_CHECK(dnn::cudnnBatchNormalizationForwardInference(
        cudnnHandle(), kMode, &kOne, &kZero, xDesc.get(), dataOf(x), xDesc.get(), mutableDataOf(result.y),
        channelDesc.get(), dataOf(scale), dataOf(shift), dataOf(*runningMean), dataOf(*runningVar), eps));
  }
  if (residual != nullptr) addReluInPlace(result.y, *residual);
  else if (relu) result.y = cuda::relu(result.y);
  return result;
}

// ---- Backward ----

// The normalisation's backward given g = dL/dy in x's format; arguments already checked.
BatchNormGrads normBackward(const Tensor& g, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                            const Tensor& saveInvStd, bool training, bool needDx, bool needDweight, bool needDbias) {
  needDweight = needDweight && weight != nullptr;
  BatchNormGrads grads;
  if (needDx && training && x.numel() > 0) {
    const int64_t C = x.shape[1];
    grads.dx = cuda::empty(x.shape, DType::Float32, x.format);
    Tensor dweight = cuda::empty({C}), dbias = cuda::empty({C});  // scratch unless requested
    const Tensor scale = scaleOf(weight, C);
    const TensorDesc xDesc(x);  // g and dx have x's shape and format: the same descriptor
    const ChannelDesc channelDesc(xDesc);
    CR_CHECK(saveMean.storage && saveMean.storage->data && saveInvStd.storage && saveInvStd.storage->data,
             "batchNorm2dBackward: the saved statistics must be given (cuDNN would recompute them with an eps it "
             "is not told)");
    CR_CUDNN_CHECK(dnn::cudnnBatchNormalizationBackward(
        cudnnHandle(), kMode, &kOne, &kZero, &kOne, &kZero, xDesc.get(), dataOf(x), xDesc.get(), dataOf(g),
        xDesc.get(), mutableDataOf(grads.dx), channelDesc.get(), dataOf(scale), mutableDataOf(dweight),
        mutableDataOf(dbias), kUnreadBackwardEpsilon, dataOf(saveMean), dataOf(saveInvStd)));
    if (needDweight) grads.dweight = dweight;
    if (needDbias) grads.dbias = dbias;
    return grads;
  }
  if (needDx) grads.dx = training ? cuda::empty(x.shape, DType::Float32, x.format)  // empty x: nothing to compute
                                  : evalInputGradient(g, x, weight, saveMean, saveInvStd);
  ChannelGrads sums = channelGrads(g, x, saveMean, saveInvStd, needDweight, needDbias);
  grads.dweight = sums.dweight;
  grads.dbias = sums.dbias;
  return grads;
}

}  // namespace

BatchNormResult batchNorm2d(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                                 Tensor* runningVar, bool training, double momentum, double eps) {
  return normalise("batchNorm2d", x, nullptr, false, weight, bias, runningMean, runningVar, training, momentum, eps);
}

BatchNormGrads batchNorm2dBackward(const Tensor& dy, const Tensor& x, const Tensor* weight, const Tensor& saveMean,
                                 const Tensor& saveInvStd, bool training, bool needDx, bool needDweight,
                                 bool needDbias) {
  checkBackwardArgs("batchNorm2dBackward", dy, x, weight, saveMean, saveInvStd);
  if (!needDx && !(needDweight && weight != nullptr) && !needDbias) return {};
  if (training && batchNormKernelsFused()) {
    BnAddReluGrads g =
        bnFusedBackward(dy, nullptr, x, weight, saveMean, saveInvStd, needDx, false, needDweight, needDbias);
    return {g.dx, g.dweight, g.dbias};
  }
  return normBackward(inFormatOf(dy, x), x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias);
}

BatchNormResult bnAddRelu(const Tensor& x, const Tensor& residual, const Tensor* weight, const Tensor* bias,
                                 Tensor* runningMean, Tensor* runningVar, bool training, double momentum, double eps) {
  const char* op = "bnAddRelu";
  expectFloat32Gpu(op, "x", x);
  expectFloat32Gpu(op, "residual", residual);
  expectShape(op, "residual", residual, x.shape);
  return normalise(op, x, &residual, true, weight, bias, runningMean, runningVar, training, momentum, eps);
}

BatchNormResult bnRelu(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                              Tensor* runningVar, bool training, double momentum, double eps) {
  return normalise("bnRelu", x, nullptr, true, weight, bias, runningMean, runningVar, training, momentum, eps);
}

BatchNormGrads bnReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                              const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                              bool needDweight, bool needDbias) {
  const char* op = "bnReluBackward";
  checkBackwardArgs(op, dy, x, weight, saveMean, saveInvStd);
  expectFloat32Gpu(op, "y", y);
  expectShape(op, "y", y, x.shape);
  if (!needDx && !(needDweight && weight != nullptr) && !needDbias) return {};
  if (training && batchNormKernelsFused()) {
    BnAddReluGrads g =
        bnFusedBackward(dy, &y, x, weight, saveMean, saveInvStd, needDx, false, needDweight, needDbias);
    return {g.dx, g.dweight, g.dbias};
  }
  return normBackward(reluGradient(dy, y, x.format), x, weight, saveMean, saveInvStd, training, needDx, needDweight,
                      needDbias);
}

BnAddReluGrads bnAddReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                                 const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                                 bool needDresidual, bool needDweight, bool needDbias) {
  const char* op = "bnAddReluBackward";
  checkBackwardArgs(op, dy, x, weight, saveMean, saveInvStd);
  expectFloat32Gpu(op, "y", y);
  expectShape(op, "y", y, x.shape);
  const bool needNorm = needDx || (needDweight && weight != nullptr) || needDbias;
  BnAddReluGrads grads;
  if (!needNorm && !needDresidual) return grads;
  if (training && batchNormKernelsFused())
    return bnFusedBackward(dy, &y, x, weight, saveMean, saveInvStd, needDx, needDresidual, needDweight, needDbias);
  // The gradient reaching the sum, in x's format: dresidual, and what the normalisation's backward reads.
  const Tensor sumGrad = reluGradient(dy, y, x.format);
  if (needDresidual) grads.dresidual = sumGrad;
  if (needNorm) {
    BatchNormGrads g =
        normBackward(sumGrad, x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias);
    grads.dx = g.dx;
    grads.dweight = g.dweight;
    grads.dbias = g.dbias;
  }
  return grads;
}

}  // namespace cr::cuda
