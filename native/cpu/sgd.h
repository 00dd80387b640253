// In-place SGD update with PyTorch's semantics (torch.optim.SGD):
//   d = grad + weightDecay * param
//   momentum != 0: buf = firstStep ? d : momentum * buf + (1 - dampening) * d
//                  d = nesterov ? d + momentum * buf : buf
//   param -= lr * d
#pragma once
#include <vector>

#include "../core/tensor.h"
#include "../ops/sgd.h"

namespace cr {

#include "../ops/sgd_ops.inc"

}  // namespace cr
