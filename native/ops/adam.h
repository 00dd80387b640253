// adamStep's contract, the same on every device (cpu/adam.cc and cuda/kernels/adam.cu check with it):
// its options and its argument checks.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace cr {

struct AdamOptions {
  double lr, beta1, beta2, eps, weightDecay;
  bool decoupled;
  int64_t step;
  // Optional int32 one-element tensor on the parameters' device: no update when nonzero as the
  // update runs (GradScaler's non-finite flag).
  const Tensor* skipIfNonzero = nullptr;
};
// The argument checks of adamStep for tensors on `device` (shared by the CPU op and its CUDA twin).
void checkAdamStep(const Tensor& param, const Tensor& grad, const Tensor& expAvg, const Tensor& expAvgSq,
                   const AdamOptions& o, Device device);

}  // namespace cr
