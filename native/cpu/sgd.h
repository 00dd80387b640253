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

// momentumBuffer may be nullptr when momentum == 0; param, grad and the buffer share one shape.
void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o);
// sgdStep on every (params[i], grads[i], buffers[i]); buffers may be empty when momentum == 0.
// (The GPU version updates them all in one launch.)
void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o);

}  // namespace cr
