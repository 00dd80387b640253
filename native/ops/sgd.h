// sgdStep's contract, the same on every device (cpu/sgd.cc and cuda/kernels/sgd.cu check with it): its
// options and its argument checks.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace cr {

struct SgdOptions {
  double lr, momentum, dampening, weightDecay;
  bool nesterov;
  bool firstStep;
  // Optional one-element tensors on the parameters' device, read when the update runs (so that a
  // captured CUDA graph sees their values at each replay): a float32 learning rate replacing lr,
  // and an int32 flag that skips the update when nonzero (GradScaler's non-finite flag).
  const Tensor* lrTensor = nullptr;
  const Tensor* skipIfNonzero = nullptr;
};
// The argument checks of sgdStep for tensors on `device` (shared by the CPU op and its CUDA twin).
void checkSgdStep(const Tensor& param, const Tensor& grad, const Tensor* momentumBuffer, const SgdOptions& o,
                  Device device);

}  // namespace cr
