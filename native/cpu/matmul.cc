#include "matmul.h"

#include "../core/error.h"
#include "gemm.h"

namespace cr {

Tensor matmul(const Tensor& a, const Tensor& b, bool transA, bool transB) {
  expectFloat32("matmul", "a", a);
  expectFloat32("matmul", "b", b);
  expectDim("matmul", "a", a, 2);
  expectDim("matmul", "b", b, 2);
  int64_t m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1];
  int64_t kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1];
  CR_CHECK_RANGE(k == kb, "matmul: inner dimensions differ: a", transA ? "^T" : "", " is (", m, ", ", k, ") and b",
                 transB ? "^T" : "", " is (", kb, ", ", n, ")");
  Tensor out = empty({m, n});
  sgemm(transA, transB, m, n, k, 1.f, a.f32(), a.shape[1], b.f32(), b.shape[1], 0.f, out.f32(), n);
  return out;
}

}  // namespace cr
