// Single-precision GEMM on row-major matrices:
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
// op(A) = A (M, K) with row stride lda, or A^T where A is (K, M) with row stride lda.
// op(B) likewise. beta == 0 means C is written without being read (NaNs in C are ignored).
// An epilogue (epilogue.h: C = act(C + bias + z)), when given, is applied after the product: by the
// built-in kernel to each tile of C as the tile receives its last K block, while it is in cache;
// after cblas_sgemm in one pass over C.
// Two implementations: the built-in blocked, multi-threaded kernel (AVX-512 or AVX2/FMA as
// cpuIsa() selects, portable C++ otherwise), and OpenBLAS's cblas_sgemm when libopenblas is found at run time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/cpu_features.h"
#include "epilogue.h"

namespace cr {

enum class GemmBackend { Builtin = 0, OpenBlas = 1 };

// op(A) (M, K) packed once for the built-in kernel of one instruction set (a convolution's weights,
// kept while they do not change): per K block, every row in the micro-kernel's MR-tall panels.
struct PackedGemmA {
  CpuIsa isa;
  int64_t M, K, rows;  // rows: M rounded up to the kernel's MR
  std::vector<float> panels;
};
PackedGemmA packGemmA(CpuIsa isa, bool transA, int64_t M, int64_t K, const float* A, int64_t lda);
// C (M, N) = A * op(B) + beta * C, then the epilogue, by the built-in kernel of a.isa (which must be
// the instruction set in force), with A packed by packGemmA. Same result as sgemmBuiltin.
void sgemmPackedA(const PackedGemmA& a, bool transB, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc, const Epilogue* epilogue = nullptr);

// op(B) (K, N) packed once for the built-in kernel of one instruction set (a convolution's weights as
// the right-hand side of the transposed product): per K block, every column in NR-wide panels.
struct PackedGemmB {
  CpuIsa isa;
  int64_t K, N, cols;  // cols: N rounded up to the kernel's NR
  std::vector<float> panels;
};
PackedGemmB packGemmB(CpuIsa isa, bool transB, int64_t K, int64_t N, const float* B, int64_t ldb);
// The column step (the micro-kernel's NR) of b's kernel.
int64_t packedGemmColumnStep(const PackedGemmB& b);
// Columns [colBegin, colEnd) of C (M, N) = A * B + beta * C, then the epilogue on them, with A packed
// by packGemmA and B by packGemmB for the instruction set in force (a.K == b.K, a.M == M, b.N == N),
// on the calling thread only: colBegin a multiple of packedGemmColumnStep(b); C's other columns are
// not touched. Any column split gives the same bits.
void sgemmPackedABColumns(const PackedGemmA& a, const PackedGemmB& b, int64_t colBegin, int64_t colEnd, float beta,
                          float* C, int64_t ldc, const Epilogue* epilogue = nullptr);

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const Epilogue* epilogue = nullptr);

// Always the built-in kernel, whatever the selected backend.
void sgemmBuiltin(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const Epilogue* epilogue = nullptr);

GemmBackend gemmBackend();
// Selects the backend used by sgemm(); selecting OpenBlas when it is unavailable throws.
void setGemmBackend(GemmBackend backend);
bool openBlasAvailable();
// Where libopenblas was loaded from, or why it was not.
std::string openBlasInfo();
// The built-in kernel's instruction set in use: "avx512", "avx2-fma" or "portable".
const char* builtinGemmIsa();

}  // namespace cr
