// The gradient side of dynamic loss scaling: multiply every gradient by 1 / scale in place and
// say whether any element was infinite or NaN (the step is then skipped and the scale lowered).
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace cr {

// grads: float32 tensors, each multiplied in place by invScale. Returns true when any element
// (before or after the multiplication) is not finite.
bool unscaleGrads(const std::vector<Tensor*>& grads, double invScale);

}  // namespace cr
