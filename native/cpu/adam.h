// In-place Adam / AdamW update with PyTorch's semantics (torch.optim.Adam / AdamW, amsgrad off):
//   Adam (decoupled = false): g = grad + weightDecay * param
//   AdamW (decoupled = true): param *= 1 - lr * weightDecay;  g = grad
//   expAvg   = beta1 * expAvg   + (1 - beta1) * g
//   expAvgSq = beta2 * expAvgSq + (1 - beta2) * g * g
//   param -= lr / (1 - beta1^step) * expAvg / (sqrt(expAvgSq) / sqrt(1 - beta2^step) + eps)
// `step` counts this update (1 at the first); the moment buffers start at zero.
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
// param, grad, expAvg and expAvgSq: float32, one shape and memory format.
void adamStep(Tensor& param, const Tensor& grad, Tensor& expAvg, Tensor& expAvgSq, const AdamOptions& o);

}  // namespace cr
