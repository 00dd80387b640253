#include "matmul.h"

#include "../core/error.h"
#include "gemm.h"
#include "gemm_bf16.h"

namespace cr {

namespace {

// out (m, n) for op(a) (m, k) and op(b) (k, n), after the checks both products share.
Tensor product(const Tensor& a, const Tensor& b, bool transA, bool transB, bool bf16) {
  expectFloat32("matmul", "a", a);
  expectFloat32("matmul", "b", b);
  expectDim("matmul", "a", a, 2);
  expectDim("matmul", "b", b, 2);
  int64_t m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1];
  int64_t kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1];
  CR_CHECK_RANGE(k == kb, "matmul: inner dimensions differ: a", transA ? "^T" : "", " is (", m, ", ", k, ") and b",
                 transB ? "^T" : "", " is (", kb, ", ", n, ")");
  Tensor out = empty({m, n});
  if (bf16)
    gemmBf16(transA, transB, m, n, k, a.f32(), a.shape[1], b.f32(), b.shape[1], 0.f, out.f32(), n, nullptr, true);
  else
    sgemm(transA, transB, m, n, k, 1.f, a.f32(), a.shape[1], b.f32(), b.shape[1], 0.f, out.f32(), n);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transA, bool transB) {
  return product(a, b, transA, transB, false);
}

Tensor matmulBf16(const Tensor& a, const Tensor& b, bool transA, bool transB) {
  CR_CHECK_TYPE(bf16ComputeNative(), "matmul: bfloat16 compute needs AVX-512 BF16 and the avx512 instruction set (",
                "CUDNN_RESNET_BF16=emulated or another instruction set is in force, or the CPU lacks it)");
  return product(a, b, transA, transB, true);
}

}  // namespace cr
