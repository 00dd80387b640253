// SGD on many GPU parameters at once: the update of sgdStep (native/cpu/sgd.h) applied to every
// (param, grad, momentum buffer) triple with one kernel launch per 64 tensors.
#pragma once
#include <vector>

#include "../../core/tensor.h"
#include "../../ops/sgd.h"

namespace cr::cuda {

// params[i] -= ... as sgdStep(*params[i], *grads[i], buffers[i], o). buffers may be empty when
// o.momentum == 0; otherwise it has one buffer per parameter. Every tensor is checked before any
// is updated.
void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o);

}  // namespace cr::cuda
