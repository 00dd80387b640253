// 2-D matrix product on the GPU with cuBLAS, the twin of native/cpu/matmul.cc: out (M, N) = op(a) op(b)
// for row-major a and b, op = transpose when the flag is set; same checks and errors.
// cuBLAS is column-major, and a row-major (r, c) matrix read column-major is its transpose (c, r) with
// leading dimension c. So out^T = op(b)^T op(a)^T is computed column-major: cuBLAS's first operand is
// b (transposed iff transB), its second a (transposed iff transA), sizes (N, M, K), ldc = N.
// float32 uses cublasSgemm_v2; float16 / bfloat16 use cublasGemmEx accumulating in float32, out in the
// input dtype. The math mode is set on every call (the handle is shared): TF32 tensor ops only when
// allowTf32(); otherwise CUBLAS_DEFAULT_MATH, which never uses a precision below the requested one
// (no TF32 for float32), with reductions kept in float32 for 16-bit outputs.
#include <climits>

#include "../core/error.h"
#include "dynload.h"
#include "handles.h"
#include "ops.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr const char* kOp = "matmul";

// The column-major cuBLAS call computing the row-major product (see the file comment).
struct ColumnMajorGemm {
  blas::cublasOperation_t opA, opB;
  int m, n, k, lda, ldb, ldc;
};

// M, N, K: sizes of the row-major product; aCols, bCols: a.shape[1], b.shape[1] (the row-major leading
// dimensions). cuBLAS's A is b, its B is a.
ColumnMajorGemm columnMajorGemm(int64_t M, int64_t N, int64_t K, bool transA, bool transB, int64_t aCols,
                                int64_t bCols) {
  ColumnMajorGemm g;
  g.opA = transB ? blas::CUBLAS_OP_T : blas::CUBLAS_OP_N;
  g.opB = transA ? blas::CUBLAS_OP_T : blas::CUBLAS_OP_N;
  g.m = static_cast<int>(N);
  g.n = static_cast<int>(M);
  g.k = static_cast<int>(K);
  g.lda = static_cast<int>(bCols);
  g.ldb = static_cast<int>(aCols);
  g.ldc = static_cast<int>(N);
  return g;
}

void expectGpuFloat(const char* arg, const Tensor& t) {
  CR_CHECK_TYPE(t.device == Device::CUDA, kOp, ": ", arg, " must be on the GPU");
  CR_CHECK_TYPE(t.dtype == DType::Float32 || t.dtype == DType::Float16 || t.dtype == DType::BFloat16, kOp, ": ",
                arg, " must be float32, float16 or bfloat16, got ", dtypeName(t.dtype));
}

void expectIntSized(const char* what, int64_t v) {
  CR_CHECK_RANGE(v <= INT_MAX, kOp, ": ", what, " = ", v, " exceeds cuBLAS's limit of 2^31 - 1");
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transA, bool transB) {
  expectGpuFloat("a", a);
  expectGpuFloat("b", b);
  CR_CHECK_TYPE(b.dtype == a.dtype, kOp, ": b must have a's dtype ", dtypeName(a.dtype), ", got ",
                dtypeName(b.dtype));
  expectDim(kOp, "a", a, 2);
  expectDim(kOp, "b", b, 2);
  int64_t m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1];
  int64_t kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1];
  CR_CHECK_RANGE(k == kb, "matmul: inner dimensions differ: a", transA ? "^T" : "", " is (", m, ", ", k, ") and b",
                 transB ? "^T" : "", " is (", kb, ", ", n, ")");
  if (m == 0 || n == 0) return cuda::empty({m, n}, a.dtype);
  if (k == 0) return cuda::zeros({m, n}, a.dtype);  // a sum of nothing
  expectIntSized("a's column count", a.shape[1]);
  expectIntSized("b's column count", b.shape[1]);
  expectIntSized("M", m);
  expectIntSized("N", n);
  expectIntSized("K", k);

  Tensor out = cuda::empty({m, n}, a.dtype);
  ColumnMajorGemm g = columnMajorGemm(m, n, k, transA, transB, a.shape[1], b.shape[1]);
  blas::cublasHandle_t handle = cublasHandle();
  const float one = 1.0f, zero = 0.0f;  // float for Sgemm and for GemmEx with CUBLAS_COMPUTE_32F
  const void* A = b.storage->data;
  const void* B = a.storage->data;
  void* C = out.storage->data;
  if (a.dtype == DType::Float32) {
    CR_CUBLAS_CHECK(
        blas::cublasSetMathMode(handle, allowTf32() ? blas::CUBLAS_TF32_TENSOR_OP_MATH : blas::CUBLAS_DEFAULT_MATH));
    CR_CUBLAS_CHECK(blas::cublasSgemm_v2(handle, g.opA, g.opB, g.m, g.n, g.k, &one, static_cast<const float*>(A),
                                         g.lda, static_cast<const float*>(B), g.ldb, &zero, static_cast<float*>(C),
                                         g.ldc));
  } else {
    auto mode = static_cast<blas::cublasMath_t>(
        static_cast<int>(blas::CUBLAS_DEFAULT_MATH) |
        static_cast<int>(blas::CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    CR_CUBLAS_CHECK(blas::cublasSetMathMode(handle, mode));
    cudaDataType_t type = a.dtype == DType::Float16 ? CUDA_R_16F : CUDA_R_16BF;
    CR_CUBLAS_CHECK(blas::cublasGemmEx(handle, g.opA, g.opB, g.m, g.n, g.k, &one, A, type, g.lda, B, type, g.ldb,
                                       &zero, C, type, g.ldc, blas::CUBLAS_COMPUTE_32F, blas::CUBLAS_GEMM_DEFAULT));
  }
  return out;
}

}  // namespace cr::cuda
