// In-place SGD update with PyTorch's semantics (torch.optim.SGD):
//   d = grad + weightDecay * param
//   momentum != 0: buf = firstStep ? d : momentum * buf + (1 - dampening) * d
//                  d = nesterov ? d + momentum * buf : buf
//   param -= lr * d
#pragma once
#include "../core/tensor.h"

namespace cr {

struct SgdOptions { double lr, momentum, dampening, weightDecay; bool nesterov; bool firstStep; };
// momentumBuffer may be nullptr when momentum == 0; param, grad and the buffer share one shape.
void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o);

}  // namespace cr
