// 2-D matrix product on top of sgemm: out (M, N) = op(a) (M, K) * op(b) (K, N),
// op = transpose when the flag is set. Linear layers and their gradients use it.
#pragma once
#include "../core/tensor.h"

namespace cr {

#include "../ops/matmul_ops.inc"

}  // namespace cr
