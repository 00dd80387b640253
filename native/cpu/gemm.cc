// The built-in SGEMM: micro-kernels (AVX-512 14x32, AVX2/FMA 6x16, portable 4x8), chosen at
// every call by the instruction set in force (cpu_features.h), and the entry point. The blocked driver is in gemm_kernel.h; the OpenBLAS
// backend and sgemm() dispatch are in openblas.cc.
#include "gemm.h"

#include "../core/cpu_targets.h"
#include "../core/error.h"
#include "gemm_kernel.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "epilogue_avx512.h"
#endif

namespace cr {
namespace {

// Writes the C tile (mr, nr) from a full (MR, NR) tile that already holds alpha * op(A) * op(B):
// C = tile + beta * C, and C is not read when beta == 0.
template <int MR, int NR>
void mergeTile(const float (&tile)[MR][NR], float* C, int64_t ldc, int mr, int nr, float beta) {
  for (int i = 0; i < mr; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) row[j] = tile[i][j];
    } else {
      for (int j = 0; j < nr; ++j) row[j] = tile[i][j] + beta * row[j];
    }
  }
}

// Plain C++ (the compiler vectorises it with whatever the baseline ISA offers).
struct PortableKernel {
  static constexpr int MR = 4, NR = 8;
  static constexpr int64_t MC = 128, KC = 256, NC = 2048;

  // panelA: (kc, MR) row-major, panelB: (kc, NR) row-major; C tile (mr, nr) with row stride ldc.
  static void run(int64_t kc, const float* panelA, const float* panelB, float* C, int64_t ldc, int mr, int nr,
                  float alpha, float beta) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k, panelA += MR, panelB += NR)
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] += panelA[i] * panelB[j];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] *= alpha;
    mergeTile(acc, C, ldc, mr, nr, beta);
  }
  static void epilogue(const Epilogue& e, float* C, int64_t ldc, int64_t i0, int64_t j0, int mr, int nr) {
    applyEpilogue(e, C, ldc, i0, j0, mr, nr);
  }
};

#if defined(__x86_64__)
// 6 rows x 16 columns: 12 ymm accumulators, 2 for the B row, 1 for the broadcast A element.
struct Avx2FmaKernel {
  static constexpr int MR = 6, NR = 16;
  static constexpr int64_t MC = 144, KC = 256, NC = 4080;

  // panelA: (kc, 6) row-major, panelB: (kc, 16) row-major (a packed B kept with the weights is not
  // 32-byte aligned: unaligned loads, as fast as aligned ones on aligned data);
  // C tile (mr, nr) with row stride ldc.
  CR_TARGET_AVX2 static void run(int64_t kc, const float* panelA, const float* panelB,
                                                      float* C, int64_t ldc, int mr, int nr, float alpha,
                                                      float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, panelA += MR, panelB += NR) {
      const __m256 b0 = _mm256_loadu_ps(panelB), b1 = _mm256_loadu_ps(panelB + 8);
      __m256 a = _mm256_broadcast_ss(panelA + 0);
      c00 = _mm256_fmadd_ps(a, b0, c00);
      c01 = _mm256_fmadd_ps(a, b1, c01);
      a = _mm256_broadcast_ss(panelA + 1);
      c10 = _mm256_fmadd_ps(a, b0, c10);
      c11 = _mm256_fmadd_ps(a, b1, c11);
      a = _mm256_broadcast_ss(panelA + 2);
      c20 = _mm256_fmadd_ps(a, b0, c20);
      c21 = _mm256_fmadd_ps(a, b1, c21);
      a = _mm256_broadcast_ss(panelA + 3);
      c30 = _mm256_fmadd_ps(a, b0, c30);
      c31 = _mm256_fmadd_ps(a, b1, c31);
      a = _mm256_broadcast_ss(panelA + 4);
      c40 = _mm256_fmadd_ps(a, b0, c40);
      c41 = _mm256_fmadd_ps(a, b1, c41);
      a = _mm256_broadcast_ss(panelA + 5);
      c50 = _mm256_fmadd_ps(a, b0, c50);
      c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    // The tile, each row as two 8-float halves.
    const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    const __m256 va = _mm256_set1_ps(alpha);
    if (mr == MR && nr == NR) {
      const __m256 vb = _mm256_set1_ps(beta);
      for (int i = 0; i < MR; ++i) {
        float* row = C + i * ldc;
        for (int h = 0; h < 2; ++h) {
          const __m256 product = _mm256_mul_ps(va, acc[i][h]);
          _mm256_storeu_ps(row + 8 * h, beta == 0.0f ? product
                                                     : _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8 * h), product));
        }
      }
      return;
    }
    alignas(32) float tile[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int h = 0; h < 2; ++h) _mm256_store_ps(&tile[i][8 * h], _mm256_mul_ps(va, acc[i][h]));
    mergeTile(tile, C, ldc, mr, nr, beta);
  }
  static void epilogue(const Epilogue& e, float* C, int64_t ldc, int64_t i0, int64_t j0, int mr, int nr) {
    applyEpilogue(e, C, ldc, i0, j0, mr, nr);
  }
};

// 14 rows x 32 columns: 28 zmm accumulators, 2 for the B row, and each A element broadcast from
// memory inside its FMA. Zen 4/5 and Intel cores with two 512-bit FMA units retire 2 FMAs per
// cycle; 28 independent accumulators cover the FMA latency (4 cycles) with room to spare.
struct Avx512Kernel {
  static constexpr int MR = 14, NR = 32;
  // KC = 512 halves the passes over C of KC = 256 (measured 0.90 -> 0.96 of OpenBLAS's SkylakeX
  // sgemm at 2048^3 on one Zen 5 core); an A block (MC, KC) is 224 KiB, in L2.
  static constexpr int64_t MC = 112, KC = 512, NC = 2048;

  // panelA: (kc, 14) row-major, panelB: (kc, 32) row-major; C tile (mr, nr) with row stride ldc.
  // Partial tiles are written with masked loads and stores: no C element outside (mr, nr) is touched.
  // An edge tile is computed by a smaller variant (at most 4 or 8 rows, 16 columns) that leaves out
  // the padding rows and columns of the panels (M = 64: the fifth row panel holds 8 rows; 14x14
  // outputs: the seventh column panel 4 columns); each element is summed in the same order.
  static void run(int64_t kc, const float* panelA, const float* panelB, float* C, int64_t ldc, int mr, int nr,
                  float alpha, float beta) {
    if (nr > 16) {
      if (mr <= 4) return tile<4, 2>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
      if (mr <= 8) return tile<8, 2>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
      return tile<MR, 2>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
    }
    if (mr <= 4) return tile<4, 1>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
    if (mr <= 8) return tile<8, 1>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
    tile<MR, 1>(kc, panelA, panelB, C, ldc, mr, nr, alpha, beta);
  }

  // The first ROWS rows and 16 * HALVES columns of the panels' product (mr <= ROWS, nr <= 16 * HALVES).
  template <int ROWS, int HALVES>
  CR_TARGET_AVX512 static void tile(
      int64_t kc, const float* panelA, const float* panelB, float* C, int64_t ldc, int mr, int nr, float alpha,
      float beta) {
    __m512 acc[ROWS][HALVES];
#pragma GCC unroll 14
    for (int i = 0; i < ROWS; ++i)
      for (int h = 0; h < HALVES; ++h) acc[i][h] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k, panelA += MR, panelB += NR) {
      __m512 b[HALVES];
      for (int h = 0; h < HALVES; ++h) b[h] = _mm512_loadu_ps(panelB + 16 * h);
      _mm_prefetch(reinterpret_cast<const char*>(panelB + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 14
      for (int i = 0; i < ROWS; ++i) {
        const __m512 a = _mm512_set1_ps(panelA[i]);
        for (int h = 0; h < HALVES; ++h) acc[i][h] = _mm512_fmadd_ps(a, b[h], acc[i][h]);
      }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 lo = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
    const __mmask16 hi = nr >= 32 ? __mmask16(0xFFFF) : nr > 16 ? __mmask16((1u << (nr - 16)) - 1) : __mmask16(0);
    const __mmask16 masks[2] = {lo, hi};
#pragma GCC unroll 14
    for (int i = 0; i < ROWS; ++i) {
      if (i >= mr) break;
      float* row = C + i * ldc;
      for (int h = 0; h < HALVES; ++h) {
        __m512 product = _mm512_mul_ps(va, acc[i][h]);
        if (beta != 0.0f) product = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(masks[h], row + 16 * h), product);
        _mm512_mask_storeu_ps(row + 16 * h, masks[h], product);
      }
    }
  }

  // applyEpilogue on the tile just written, in one pass of 16-float vectors (epilogue_avx512.h).
  CR_TARGET_AVX512 static void epilogue(
      const Epilogue& e, float* C, int64_t ldc, int64_t i0, int64_t j0, int mr, int nr) {
    epilogueTileAvx512<false>(e, C, ldc, i0, j0, mr, nr);
  }
};
#endif

// One row times a transposed B (linear at batch 1: x (1, K) W^T): dot products of a (K) with the
// contiguous rows of B (N, K), the rows shared among the threads. The blocked kernel would pack all
// of B for a single row of C; this reads B once.
float dotPortable(const float* a, const float* b, int64_t K) {
  float acc[8] = {};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[k + l] * b[k + l];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < K; ++k) sum += a[k] * b[k];
  return sum;
}

#if defined(__x86_64__)
CR_TARGET_AVX2 float dotAvx2(const float* a, const float* b, int64_t K) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), s1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(s0, s1));
  float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; k < K; ++k) sum += a[k] * b[k];
  return sum;
}

CR_TARGET_AVX512 float dotAvx512(const float* a, const float* b,
                                                                                        int64_t K) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16), s1);
  }
  for (; k < K; k += 16) {  // the tail, under a mask
    const __mmask16 m = K - k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (K - k)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), s0);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, _mm512_add_ps(s0, s1));
  float sum = 0.0f;
  for (int l = 0; l < 16; ++l) sum += lanes[l];
  return sum;
}
#endif

void rowTimesTransposedB(CpuIsa isa, int64_t N, int64_t K, float alpha, const float* a, const float* B, int64_t ldb,
                         float beta, float* C) {
  float (*dot)(const float*, const float*, int64_t) = dotPortable;
#if defined(__x86_64__)
  if (isa == CpuIsa::Avx512) dot = dotAvx512;
  if (isa == CpuIsa::Avx2) dot = dotAvx2;
#endif
  const int64_t threads = inParallelRegion() ? 1 : numThreads();
  const int64_t grain = std::max<int64_t>(16, N / (4 * threads));
  parallelFor(0, N, grain, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const float product = alpha * dot(a, B + j * ldb, K);
      C[j] = beta == 0.0f ? product : product + beta * C[j];
    }
  });
}

// C (M, N) = beta * C, or 0 when beta == 0 (C not read).
void scaleC(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

}  // namespace

void sgemmBuiltinWithIsa(CpuIsa isa, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                         int64_t ldc, const Epilogue* epilogue) {
  CR_CHECK_RANGE(M >= 0 && N >= 0 && K >= 0, "sgemm: sizes must be non-negative, got M=", M, ", N=", N,
                 ", K=", K);
  CR_CHECK_TYPE(cpuIsaSupported(isa), "sgemm: this CPU cannot run the instruction set '", cpuIsaName(isa), "'");
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) {  // op(A) * op(B) contributes nothing; A and B are not read
    scaleC(M, N, beta, C, ldc);
    if (epilogue) applyEpilogue(*epilogue, C, ldc, 0, 0, M, N);
    return;
  }
  if (M == 1 && transB && (!transA || lda == 1)) {  // op(A) is one contiguous row
    rowTimesTransposedB(isa, N, K, alpha, A, B, ldb, beta, C);
    if (epilogue) applyEpilogue(*epilogue, C, ldc, 0, 0, M, N);
    return;
  }
  const gemm::Problem problem{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue};
#if defined(__x86_64__)
  if (isa == CpuIsa::Avx512) {
    gemm::sgemmBlocked<Avx512Kernel>(problem);
    return;
  }
  if (isa == CpuIsa::Avx2) {
    gemm::sgemmBlocked<Avx2FmaKernel>(problem);
    return;
  }
#endif
  gemm::sgemmBlocked<PortableKernel>(problem);
}

namespace {

template <class Kernel>
PackedGemmA packWith(CpuIsa isa, bool transA, int64_t M, int64_t K, const float* A, int64_t lda) {
  PackedGemmA out{isa, M, K, gemm::roundUp(M, Kernel::MR), {}};
  out.panels.resize(static_cast<size_t>(out.rows * K));
  const gemm::Problem g{transA, false, M, 1, K, 1.0f, A, lda, nullptr, 1, 0.0f, nullptr, 1, nullptr};
  gemm::packWholeA<Kernel>(g, out.panels.data());
  return out;
}

}  // namespace

PackedGemmA packGemmA(CpuIsa isa, bool transA, int64_t M, int64_t K, const float* A, int64_t lda) {
  CR_CHECK_RANGE(M > 0 && K > 0, "packGemmA: sizes must be positive, got M=", M, ", K=", K);
  CR_CHECK_TYPE(cpuIsaSupported(isa), "packGemmA: this CPU cannot run the instruction set '", cpuIsaName(isa), "'");
#if defined(__x86_64__)
  if (isa == CpuIsa::Avx512) return packWith<Avx512Kernel>(isa, transA, M, K, A, lda);
  if (isa == CpuIsa::Avx2) return packWith<Avx2FmaKernel>(isa, transA, M, K, A, lda);
#endif
  return packWith<PortableKernel>(isa, transA, M, K, A, lda);
}

void sgemmPackedA(const PackedGemmA& a, bool transB, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc, const Epilogue* epilogue) {
  CR_CHECK_TYPE(a.isa == cpuIsa(), "sgemmPackedA: A was packed for '", cpuIsaName(a.isa), "' but '",
                cpuIsaName(cpuIsa()), "' is in force");
  CR_CHECK_RANGE(N >= 0, "sgemmPackedA: N must be non-negative, got ", N);
  if (N == 0) return;
  gemm::Problem g{false, transB, a.M, N, a.K, 1.0f, nullptr, a.K, B, ldb, beta, C, ldc, epilogue};
  g.packedA = a.panels.data();
  g.packedRows = a.rows;
#if defined(__x86_64__)
  if (a.isa == CpuIsa::Avx512) return gemm::sgemmBlocked<Avx512Kernel>(g);
  if (a.isa == CpuIsa::Avx2) return gemm::sgemmBlocked<Avx2FmaKernel>(g);
#endif
  gemm::sgemmBlocked<PortableKernel>(g);
}

namespace {

template <class Kernel>
PackedGemmB packBWith(CpuIsa isa, bool transB, int64_t K, int64_t N, const float* B, int64_t ldb) {
  PackedGemmB out{isa, K, N, gemm::roundUp(N, Kernel::NR), {}};
  out.panels.resize(static_cast<size_t>(out.cols * K));
  const gemm::Problem g{false, transB, 1, N, K, 1.0f, nullptr, 1, B, ldb, 0.0f, nullptr, 1, nullptr};
  gemm::packWholeB<Kernel>(g, out.panels.data());
  return out;
}

}  // namespace

PackedGemmB packGemmB(CpuIsa isa, bool transB, int64_t K, int64_t N, const float* B, int64_t ldb) {
  CR_CHECK_RANGE(K > 0 && N > 0, "packGemmB: sizes must be positive, got K=", K, ", N=", N);
  CR_CHECK_TYPE(cpuIsaSupported(isa), "packGemmB: this CPU cannot run the instruction set '", cpuIsaName(isa), "'");
#if defined(__x86_64__)
  if (isa == CpuIsa::Avx512) return packBWith<Avx512Kernel>(isa, transB, K, N, B, ldb);
  if (isa == CpuIsa::Avx2) return packBWith<Avx2FmaKernel>(isa, transB, K, N, B, ldb);
#endif
  return packBWith<PortableKernel>(isa, transB, K, N, B, ldb);
}

int64_t packedGemmColumnStep(const PackedGemmB& b) {
#if defined(__x86_64__)
  if (b.isa == CpuIsa::Avx512) return Avx512Kernel::NR;
  if (b.isa == CpuIsa::Avx2) return Avx2FmaKernel::NR;
#endif
  return PortableKernel::NR;
}

void sgemmPackedABColumns(const PackedGemmA& a, const PackedGemmB& b, int64_t colBegin, int64_t colEnd, float beta,
                          float* C, int64_t ldc, const Epilogue* epilogue) {
  CR_CHECK_TYPE(a.isa == cpuIsa() && b.isa == cpuIsa(), "sgemmPackedABColumns: A and B were packed for '",
                cpuIsaName(a.isa), "' and '", cpuIsaName(b.isa), "' but '", cpuIsaName(cpuIsa()), "' is in force");
  const int64_t step = packedGemmColumnStep(b);
  CR_CHECK_RANGE(a.K == b.K && colBegin >= 0 && colBegin % step == 0 && colBegin <= colEnd && colEnd <= b.N,
                 "sgemmPackedABColumns: columns [", colBegin, ", ", colEnd, ") of ", b.N, " (start a multiple of ",
                 step, "), K of A ", a.K, " and of B ", b.K);
  if (colBegin == colEnd) return;
  gemm::Problem g{false, false, a.M, b.N, a.K, 1.0f, nullptr, a.K, nullptr, b.N, beta, C, ldc, epilogue};
  g.packedA = a.panels.data();
  g.packedRows = a.rows;
  g.packedB = b.panels.data();
  g.packedCols = b.cols;
#if defined(__x86_64__)
  if (a.isa == CpuIsa::Avx512) return gemm::sgemmColumnsSerial<Avx512Kernel>(g, colBegin, colEnd);
  if (a.isa == CpuIsa::Avx2) return gemm::sgemmColumnsSerial<Avx2FmaKernel>(g, colBegin, colEnd);
#endif
  gemm::sgemmColumnsSerial<PortableKernel>(g, colBegin, colEnd);
}

void sgemmBuiltin(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const Epilogue* epilogue) {
  sgemmBuiltinWithIsa(cpuIsa(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
}

const char* builtinGemmIsa() {
  switch (cpuIsa()) {
    case CpuIsa::Avx512:
      return "avx512";
    case CpuIsa::Avx2:
      return "avx2-fma";
    case CpuIsa::Portable:
      break;
  }
  return "portable";
}

}  // namespace cr
