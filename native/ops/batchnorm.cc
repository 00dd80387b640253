#include "batchnorm.h"

#include <cmath>

#include "../core/error.h"

namespace cr {

void checkBatchNormInput(const char* op, Device device, const char* name, const Tensor& x) {
  expectFloat32On(device, op, name, x);
  CR_CHECK_RANGE(x.dim() == 2 || x.dim() == 4, op, ": ", name, " must be (N, C) or (N, C, H, W), got shape ",
                 shapeString(x.shape));
}

void checkPerChannel(const char* op, Device device, const char* name, const Tensor* t, int64_t channels) {
  if (t == nullptr) return;
  expectFloat32On(device, op, name, *t);
  expectShape(op, name, *t, {channels});
}

void checkBatchNormForward(const char* op, Device device, const Tensor& x, const Tensor* weight, const Tensor* bias,
                           const Tensor* runningMean, const Tensor* runningVar, bool training, double momentum,
                           double eps) {
  checkBatchNormInput(op, device, "x", x);
  const int64_t C = x.shape[1], n = x.dim() == 2 ? x.shape[0] : x.shape[0] * x.shape[2] * x.shape[3];
  checkPerChannel(op, device, "weight", weight, C);
  checkPerChannel(op, device, "bias", bias, C);
  checkPerChannel(op, device, "runningMean", runningMean, C);
  checkPerChannel(op, device, "runningVar", runningVar, C);
  CR_CHECK_RANGE(eps > 0 && std::isfinite(eps), op, ": eps must be a positive finite number, got ", eps);
  CR_CHECK_RANGE(momentum >= 0 && momentum <= 1, op, ": momentum must be in [0, 1], got ", momentum);
  CR_CHECK_TYPE((runningMean == nullptr) == (runningVar == nullptr), op,
                ": runningMean and runningVar must be given together");
  CR_CHECK_TYPE(training || runningMean != nullptr, op, ": eval mode needs runningMean and runningVar");
  CR_CHECK_RANGE(!training || n > 1, op, ": expected more than 1 value per channel when training, got input shape ",
                 shapeString(x.shape));
}

void checkBatchNormBackward(const char* op, Device device, const Tensor& dy, const Tensor& x, const Tensor* weight,
                            const Tensor& saveMean, const Tensor& saveInvStd) {
  checkBatchNormInput(op, device, "x", x);
  expectFloat32On(device, op, "dy", dy);
  expectShape(op, "dy", dy, x.shape);
  const int64_t C = x.shape[1];
  checkPerChannel(op, device, "weight", weight, C);
  checkPerChannel(op, device, "saveMean", &saveMean, C);
  checkPerChannel(op, device, "saveInvStd", &saveInvStd, C);
}

}  // namespace cr
