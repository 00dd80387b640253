// The bfloat16 GEMM of autocast on CPUs with AVX-512 BF16:
//   C (M, N) = round?(op(A) (M, K) * op(B) (K, N) + beta * C, then the epilogue)
// with op(A) and op(B) rounded to bfloat16 (round to nearest even, bit for bit the cast op's
// rounding, float_bits.h), their products summed in float32 by vdpbf16ps, and, with roundOutput,
// C rounded to bfloat16 after the epilogue (C stays float32 in memory throughout).
// Operands are converted to K-pair matrices first: element (i, k/2) holds the bfloat16 values of
// k and k + 1 in one 32-bit word (k even; an odd K pairs its last value with zero), which the
// blocked driver of the float32 kernel (gemm_kernel.h) packs and schedules as it does floats, with
// K halved. The epilogue's bias and z are rounded to bfloat16 as they are added (autocast rounds
// every input of the op). vdpbf16ps treats bfloat16 subnormals as zero; everything else matches a
// float32 product of the rounded operands up to the order of the sums.
#pragma once
#include <cstdint>
#include <vector>

#include "epilogue.h"

namespace cr {

// Whether the bfloat16 kernels run here: the CPU has AVX-512 BF16 and the avx512 instruction set is
// in force (cpu_features.h), and CUDNN_RESNET_BF16=emulated is not set (read at every call).
bool bf16ComputeNative();
// "avx512-bf16" when bf16ComputeNative(), else "emulated".
const char* bf16ComputeName();

// dst[i] = src[i] rounded to bfloat16, staying float32 (dst may be src), i in [0, n).
void roundToBf16(const float* src, float* dst, int64_t n);

// op(A) (M, K) converted to K pairs and packed once for the kernel (a convolution's weights): the
// layout of packGemmA (gemm.h), each float a pair of bfloat16 values.
struct PackedBf16A {
  int64_t M, K, rows;  // rows: M rounded up to the kernel's 14
  std::vector<float> panels;
};
PackedBf16A packBf16A(bool transA, int64_t M, int64_t K, const float* A, int64_t lda);

// The product of the header comment. Needs bf16ComputeNative(). A may be given packed (packedA,
// then transA, M, K, A and lda are those it was packed from and A is not read).
void gemmBf16(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const Epilogue* epilogue,
              bool roundOutput, const PackedBf16A* packedA = nullptr);

}  // namespace cr
