// Element-wise ops on float32 tensors: unary activations, binary ops with NumPy
// broadcasting, scalar affine maps, and the reductions that undo broadcasting. The contract
// (op codes, shapes, checks), shared with the GPU: ops/elementwise.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/elementwise.h"

namespace cr {

#include "../ops/elementwise_ops.inc"

}  // namespace cr
