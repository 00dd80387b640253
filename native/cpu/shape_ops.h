// Copies that move elements between tensors: concatenation (Dense blocks), narrowing (its
// gradient) and the option-A shortcut of the CIFAR ResNets (strided subsample + zero channels).
// Their contracts, shared with the GPU: ops/shape_ops.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/shape_ops.h"

namespace cr {

#include "../ops/shape_ops_ops.inc"

}  // namespace cr
