// 2-D max, average and adaptive average pooling, forward and backward, float32 on the CPU, as PyTorch
// (the contract, shared with the GPU: ops/pool.h).
// x: (N, C, H, W) in either memory format; a forward output has x's memory format (argmax included), and
// a backward output (dx) has dy's.
#pragma once
#include "../core/tensor.h"
#include "../ops/pool.h"

namespace cr {

#include "../ops/pool_ops.inc"

}  // namespace cr
