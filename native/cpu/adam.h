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
#include "../ops/adam.h"

namespace cr {

#include "../ops/adam_ops.inc"

}  // namespace cr
