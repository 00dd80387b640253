// The gradient side of dynamic loss scaling: multiply every gradient by 1 / scale in place and
// say whether any element was infinite or NaN (the step is then skipped and the scale lowered).
#pragma once
#include <vector>

#include "../core/tensor.h"
#include "../ops/amp.h"

namespace cr {

#include "../ops/amp_ops.inc"

}  // namespace cr
