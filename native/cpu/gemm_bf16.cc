// The bfloat16 GEMM (gemm_bf16.h): rounding and K-pair conversion of the operands, a 14x32
// vdpbf16ps micro-kernel, and the float32 kernel's blocked, multi-threaded driver (gemm_kernel.h)
// run on the pair matrices.
#include "gemm_bf16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "../core/cpu_features.h"
#include "../core/cpu_targets.h"
#include "../core/error.h"
#include "../core/float_bits.h"
#include "../core/parallel.h"
#include "gemm_kernel.h"

#include "bf16_vec.h"
#include "epilogue_avx512.h"

namespace cr {

bool bf16ComputeNative() {
#if defined(__x86_64__)
  if (cpuIsa() != CpuIsa::Avx512 || !cpuFeatures().avx512bf16) return false;
  const char* forced = std::getenv("CUDNN_RESNET_BF16");
  return !(forced && std::strcmp(forced, "emulated") == 0);
#else
  return false;
#endif
}

const char* bf16ComputeName() { return bf16ComputeNative() ? "avx512-bf16" : "emulated"; }

#if defined(__x86_64__)
namespace {

using bf16::firstLanes;
using bf16::rounded;

CR_TARGET_AVX512_BF16 void roundAvx512(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = firstLanes(n - i);
    _mm512_mask_storeu_ps(dst + i, m, rounded(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

// Row r of dst (rows, ceil(K / 2)) with row stride ldd: word kp pairs src[r][2kp] (low half) with
// src[r][2kp + 1] (high half, zero past K); src (rows, K) with row stride lds. Rows [r0, r1).
CR_TARGET_AVX512_BF16 void pairAdjacentRows(int64_t r0, int64_t r1, int64_t K, const float* src, int64_t lds, float* dst,
                              int64_t ldd) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* s = src + r * lds;  // (K)
    float* d = dst + r * ldd;        // (ceil(K / 2))
    for (int64_t k = 0; k < K; k += 32) bf16::pairNeighbours(s + k, std::min<int64_t>(32, K - k), d + k / 2);
  }
}

// Rows [p0, p1) of dst (ceil(K / 2), cols) with row stride ldd: word (kp, j) pairs src[2kp][j]
// (low half) with src[2kp + 1][j] (high half, zero past K); src (K, cols) with row stride lds.
CR_TARGET_AVX512_BF16 void pairRowPairs(int64_t p0, int64_t p1, int64_t K, int64_t cols, const float* src, int64_t lds,
                          float* dst, int64_t ldd) {
  for (int64_t p = p0; p < p1; ++p) {
    const float* s0 = src + 2 * p * lds;                      // (cols)
    const float* s1 = 2 * p + 1 < K ? s0 + lds : nullptr;     // (cols)
    float* d = dst + p * ldd;                                 // (cols)
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m = firstLanes(cols - j);
      const __m512 hi = s1 ? bf16::load16(m, s1 + j) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(d + j, m, bf16::pairLanes(bf16::load16(m, s0 + j), hi));
    }
  }
}

// pairAdjacentRows on all rows, shared among the threads.
void pairAdjacent(int64_t rows, int64_t K, const float* src, int64_t lds, float* dst, int64_t ldd) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, K));
  parallelFor(0, rows, grain, [&](int64_t r0, int64_t r1) { pairAdjacentRows(r0, r1, K, src, lds, dst, ldd); });
}

// pairRowPairs on all ceil(K / 2) rows of dst, shared among the threads.
void pairRows(int64_t K, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, cols));
  parallelFor(0, (K + 1) / 2, grain, [&](int64_t p0, int64_t p1) { pairRowPairs(p0, p1, K, cols, src, lds, dst, ldd); });
}

// The epilogue the driver hands the kernel: the float32 one, and whether C is then rounded.
struct Bf16Epilogue : Epilogue {
  bool roundOutput = false;
};

// 14 rows x 32 columns of C per call, as the float32 AVX-512 kernel, each step a K pair: 28
// vdpbf16ps (32 bfloat16 products each) instead of 28 FMAs of 16.
struct Bf16Kernel {
  static constexpr int MR = 14, NR = 32;
  static constexpr int64_t MC = 112, KC = 256, NC = 2048;  // KC in pairs: 512 values of K

  // panelA: (kc, 14) pairs, panelB: (kc, 32) pairs; C tile (mr, nr) with row stride ldc, written
  // with masked stores (nothing outside (mr, nr) is touched). alpha is 1.
  CR_TARGET_AVX512_BF16 static void run(int64_t kc, const float* panelA, const float* panelB, float* C, int64_t ldc, int mr,
                          int nr, float, float beta) {
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k, panelA += MR, panelB += NR) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_ps(panelB), b1 = (__m512bh)_mm512_loadu_ps(panelB + 16);
      _mm_prefetch(reinterpret_cast<const char*>(panelB + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 14
      for (int i = 0; i < MR; ++i) {
        const __m512bh a = (__m512bh)_mm512_set1_ps(panelA[i]);
        acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
        acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
      }
    }
    const __m512 vb = _mm512_set1_ps(beta);
    const __mmask16 lo = firstLanes(nr), hi = firstLanes(nr - 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* row = C + i * ldc;
      __m512 p0 = acc[i][0], p1 = acc[i][1];
      if (beta != 0.0f) {
        p0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(lo, row), p0);
        p1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(hi, row + 16), p1);
      }
      _mm512_mask_storeu_ps(row, lo, p0);
      _mm512_mask_storeu_ps(row + 16, hi, p1);
    }
  }

  // On the tile just written: + round(bias), + round(z), ReLU keeping NaN, then the rounding of C.
  CR_TARGET_AVX512_BF16 static void epilogue(const Epilogue& base, float* C, int64_t ldc, int64_t i0, int64_t j0, int mr,
                                             int nr) {
    const Bf16Epilogue& e = static_cast<const Bf16Epilogue&>(base);
    epilogueTileAvx512<true>(e, C, ldc, i0, j0, mr, nr, e.roundOutput);
  }
};

// A grow-only float buffer per thread (one for each operand).
float* threadBuffer(int which, size_t floats) {
  thread_local std::vector<float> buffers[2];
  std::vector<float>& b = buffers[which];
  if (b.size() < floats) b.resize(floats);
  return b.data();
}

// op(X) (rows, K) as K pairs: (rows, Kp) with row stride Kp when !trans (X is (rows, K)), else
// (Kp, rows) with row stride rows (X is (K, rows)).
void toPairs(bool trans, int64_t rows, int64_t K, const float* X, int64_t ldx, float* out) {
  const int64_t pairs = (K + 1) / 2;
  if (trans)
    pairRows(K, rows, X, ldx, out, rows);
  else
    pairAdjacent(rows, K, X, ldx, out, pairs);
}

}  // namespace

void roundToBf16(const float* src, float* dst, int64_t n) {
  if (cpuFeatures().avx512bf16 && cpuIsaSupported(CpuIsa::Avx512)) {
    parallelFor(0, n, int64_t{1} << 16, [&](int64_t i0, int64_t i1) { roundAvx512(src + i0, dst + i0, i1 - i0); });
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16ToFloat(floatToBFloat16(src[i]));
}

PackedBf16A packBf16A(bool transA, int64_t M, int64_t K, const float* A, int64_t lda) {
  CR_CHECK_RANGE(M > 0 && K > 0, "packBf16A: sizes must be positive, got M=", M, ", K=", K);
  CR_CHECK_TYPE(bf16ComputeNative(), "packBf16A: bfloat16 compute needs AVX-512 BF16 and the avx512 instruction set");
  const int64_t pairs = (K + 1) / 2;
  std::vector<float> converted(static_cast<size_t>(M * pairs));  // op(A) as pairs, see toPairs
  toPairs(transA, M, K, A, lda, converted.data());
  const gemm::Problem g{transA, false, M, 1, pairs, 1.0f, converted.data(), transA ? M : pairs,
                        nullptr, 1, 0.0f, nullptr, 1, nullptr};
  PackedBf16A out{M, K, gemm::roundUp(M, Bf16Kernel::MR), {}};
  out.panels.resize(static_cast<size_t>(out.rows * pairs));
  gemm::packWholeA<Bf16Kernel>(g, out.panels.data());
  return out;
}

void gemmBf16(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const Epilogue* epilogue,
              bool roundOutput, const PackedBf16A* packedA) {
  CR_CHECK_RANGE(M >= 0 && N >= 0 && K >= 0, "gemmBf16: sizes must be non-negative, got M=", M, ", N=", N,
                 ", K=", K);
  CR_CHECK_TYPE(bf16ComputeNative(), "gemmBf16: bfloat16 compute needs AVX-512 BF16 and the avx512 instruction set");
  if (packedA) CR_CHECK_RANGE(packedA->M == M && packedA->K == K, "gemmBf16: A was packed for other sizes");
  if (M == 0 || N == 0) return;
  Bf16Epilogue e;
  if (epilogue) static_cast<Epilogue&>(e) = *epilogue;
  e.roundOutput = roundOutput;
  if (K == 0) {  // C = beta * C (0 when beta is 0), then the epilogue
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    for (int64_t i = 0; i < M; i += Bf16Kernel::MR)
      for (int64_t j = 0; j < N; j += Bf16Kernel::NR)
        Bf16Kernel::epilogue(e, C, ldc, i, j, static_cast<int>(std::min<int64_t>(Bf16Kernel::MR, M - i)),
                             static_cast<int>(std::min<int64_t>(Bf16Kernel::NR, N - j)));
    return;
  }
  const int64_t pairs = (K + 1) / 2;
  float* pairsB = threadBuffer(1, static_cast<size_t>(pairs * N));  // op(B) as pairs, see toPairs
  toPairs(!transB, N, K, B, ldb, pairsB);
  gemm::Problem g{transA, transB, M, N, pairs, 1.0f, nullptr, transA ? M : pairs, pairsB, transB ? pairs : N,
                  beta, C, ldc, (epilogue || roundOutput) ? &e : nullptr};
  if (packedA) {
    g.packedA = packedA->panels.data();
    g.packedRows = packedA->rows;
  } else {
    float* pairsA = threadBuffer(0, static_cast<size_t>(M * pairs));
    toPairs(transA, M, K, A, lda, pairsA);
    g.A = pairsA;
  }
  gemm::sgemmBlocked<Bf16Kernel>(g);
}

#else  // not x86-64: never native

void roundToBf16(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16ToFloat(floatToBFloat16(src[i]));
}
PackedBf16A packBf16A(bool, int64_t, int64_t, const float*, int64_t) {
  CR_CHECK_TYPE(false, "packBf16A: bfloat16 compute needs AVX-512 BF16");
  return {};
}
void gemmBf16(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float, float*,
              int64_t, const Epilogue*, bool, const PackedBf16A*) {
  CR_CHECK_TYPE(false, "gemmBf16: bfloat16 compute needs AVX-512 BF16");
}

#endif

}  // namespace cr
