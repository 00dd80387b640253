// In-place SGD update with PyTorch's semantics (torch.optim.SGD):
//   d = grad + weightDecay * param
//   momentum != 0: buf = firstStep ? d : momentum * buf + (1 - dampening) * d
//                  d = nesterov ? d + momentum * buf : buf
//   param -= lr * d
#pragma once
#include <vector>

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
// momentumBuffer may be nullptr when momentum == 0; param, grad and the buffer share one shape.
void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o);
// sgdStep on every (params[i], grads[i], buffers[i]); buffers may be empty when momentum == 0.
// (The GPU version updates them all in one launch.)
void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o);

}  // namespace cr
