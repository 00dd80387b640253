// 2-D matrix product on top of sgemm: out (M, N) = op(a) (M, K) * op(b) (K, N),
// op = transpose when the flag is set. Linear layers and their gradients use it.
#pragma once
#include "../core/tensor.h"

namespace cr {

#include "../ops/matmul_ops.inc"

// matmul under autocast bfloat16 on a CPU with AVX-512 BF16 (gemm_bf16.h): a and b rounded to
// bfloat16, float32 sums of their products, the result rounded to bfloat16. TypeError where
// bf16ComputeNative() is false.
Tensor matmulBf16(const Tensor& a, const Tensor& b, bool transA, bool transB);

}  // namespace cr
