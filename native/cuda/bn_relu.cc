// y = relu(batchNorm(x)) on the GPU: the twin of cr::bnReluForward / bnReluBackward in
// native/cpu/batchnorm.cc, with the same checks, errors, outputs and memory formats (y and dx in
// x's format; per-channel tensors (C)).
//   training, with the fused kernels selected (batchNormKernelsFused(), the default): one
//     statistics pass and one pass that normalises and clamps (bnFusedForward with relu and no
//     residual); backward: one reduction and one apply pass with the ReLU mask taken from y
//     (bnFusedBackward).
//   otherwise (eval mode, or CUDNN_RESNET_BN=cudnn): batchNormForward (cuDNN) then the relu
//     kernel; backward: reluBackward then batchNormBackward.
#include <cmath>

#include "../core/error.h"
#include "dynload.h"
#include "kernels/bn_fused.h"
#include "kernels/tensor_checks.cuh"
#include "ops.h"

namespace cr::cuda {
namespace {

// ---- Checks: the CPU op's, in its order, asking for GPU tensors ----

void checkInput(const char* op, const char* name, const Tensor& x) {
  expectFloat32Gpu(op, name, x);
  CR_CHECK_RANGE(x.dim() == 2 || x.dim() == 4, op, ": ", name, " must be (N, C) or (N, C, H, W), got shape ",
                 shapeString(x.shape));
}

void checkPerChannel(const char* op, const char* name, const Tensor* t, int64_t channels) {
  if (t == nullptr) return;
  expectFloat32Gpu(op, name, *t);
  expectShape(op, name, *t, {channels});
}

// Values per channel: N for (N, C), N*H*W for (N, C, H, W).
int64_t perChannelOf(const Tensor& x) { return x.dim() == 2 ? x.shape[0] : x.shape[0] * x.shape[2] * x.shape[3]; }

void checkForwardArgs(const char* op, const Tensor& x, const Tensor* weight, const Tensor* bias,
                      const Tensor* runningMean, const Tensor* runningVar, bool training, double momentum,
                      double eps) {
  checkInput(op, "x", x);
  const int64_t C = x.shape[1], n = perChannelOf(x);
  checkPerChannel(op, "weight", weight, C);
  checkPerChannel(op, "bias", bias, C);
  checkPerChannel(op, "runningMean", runningMean, C);
  checkPerChannel(op, "runningVar", runningVar, C);
  CR_CHECK_RANGE(eps > 0 && std::isfinite(eps), op, ": eps must be a positive finite number, got ", eps);
  CR_CHECK_RANGE(momentum >= 0 && momentum <= 1, op, ": momentum must be in [0, 1], got ", momentum);
  CR_CHECK_TYPE((runningMean == nullptr) == (runningVar == nullptr), op,
                ": runningMean and runningVar must be given together");
  CR_CHECK_TYPE(training || runningMean != nullptr, op, ": eval mode needs runningMean and runningVar");
  CR_CHECK_RANGE(!training || n > 1, op, ": expected more than 1 value per channel when training, got input shape ",
                 shapeString(x.shape));
  CR_CHECK_RANGE(eps >= dnn::CUDNN_BN_MIN_EPSILON, op, ": eps must be at least cuDNN's minimum ",
                 dnn::CUDNN_BN_MIN_EPSILON, ", got ", eps);
}

void checkBackwardArgs(const char* op, const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                       const Tensor& saveMean, const Tensor& saveInvStd) {
  checkInput(op, "x", x);
  expectFloat32Gpu(op, "dy", dy);
  expectShape(op, "dy", dy, x.shape);
  const int64_t C = x.shape[1];
  checkPerChannel(op, "weight", weight, C);
  checkPerChannel(op, "saveMean", &saveMean, C);
  checkPerChannel(op, "saveInvStd", &saveInvStd, C);
  expectFloat32Gpu(op, "y", y);
  expectShape(op, "y", y, x.shape);
}

}  // namespace

BatchNormResult bnReluForward(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor* runningMean,
                              Tensor* runningVar, bool training, double momentum, double eps) {
  checkForwardArgs("bnRelu", x, weight, bias, runningMean, runningVar, training, momentum, eps);
  if (training && batchNormKernelsFused())
    return bnFusedForward(x, nullptr, true, weight, bias, runningMean, runningVar, momentum, eps);
  BatchNormResult r = cuda::batchNormForward(x, weight, bias, runningMean, runningVar, training, momentum, eps);
  r.y = cuda::relu(r.y);
  return r;
}

BatchNormGrads bnReluBackward(const Tensor& dy, const Tensor& y, const Tensor& x, const Tensor* weight,
                              const Tensor& saveMean, const Tensor& saveInvStd, bool training, bool needDx,
                              bool needDweight, bool needDbias) {
  checkBackwardArgs("bnReluBackward", dy, y, x, weight, saveMean, saveInvStd);
  if (!needDx && !(needDweight && weight != nullptr) && !needDbias) return {};
  if (training && batchNormKernelsFused()) {
    BnAddReluGrads g =
        bnFusedBackward(dy, &y, x, weight, saveMean, saveInvStd, needDx, false, needDweight, needDbias);
    return {g.dx, g.dweight, g.dbias};
  }
  const Tensor masked = cuda::reluBackward(dy, y);
  return cuda::batchNormBackward(masked, x, weight, saveMean, saveInvStd, training, needDx, needDweight, needDbias);
}

}  // namespace cr::cuda
