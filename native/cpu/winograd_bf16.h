// The bfloat16 product stage of Winograd F(2x2, 3x3) (winograd.h) for autocast bfloat16 on CPUs
// with AVX-512 BF16: the 16 products M[xi] (O, tiles) = U[xi] (O, C) * V[xi] (C, tiles) of a chunk
// with U and V rounded to bfloat16 as they are converted to channel pairs, and float32 sums of
// their products (vdpbf16ps). The transforms around it stay float32. Internal to winograd.cc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cr {
namespace winograd {

// Pair-packed weights from U in winograd.cc's layout U[xi][o / 4][c][4] (blocks = ceil(outC / 4)):
// Up[xi][o / 4][c / 2][4] where each float holds the bfloat16 values of channels c and c + 1 (c
// even; zero past inC).
std::vector<float> pairWeights(const std::vector<float>& U, int64_t blocks, int64_t inC);

// dst[0, n): each float the bfloat16 values of lo[i] (low half) and hi[i] (high half; zero for hi
// null), two channels' rows of V paired for the products.
void pairChannelRows(const float* lo, const float* hi, int64_t n, float* dst);

// c (rows, 24) = [c +] a (pairs, 4 packed) * b (pairs, 24) with b's row stride ldb; rows <= 4.
void kernel4x24Bf16(int64_t pairs, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t rows,
                    bool accumulate);

// The filter gradient's dot products: dst (rows, ceil(n / 2)) with row stride ldd from src (rows, n)
// with row stride lds, each float the bfloat16 values of tiles t and t + 1 of a row (t even; zero
// past n).
void pairAlongRows(int64_t rows, int64_t n, const float* src, int64_t lds, float* dst, int64_t ldd);
// du (O, C) with row stride lddu += z (O, pairs) * v (C, pairs)^T, both as pairAlongRows made them.
void dotProductsBf16(int64_t O, int64_t C, int64_t pairs, const float* z, int64_t ldz, const float* v, int64_t ldv,
                     float* du, int64_t lddu);

// y[0, n) rounded to bfloat16 in place (one output stretch, on this thread).
void roundStretch(float* y, int64_t n);

// Per-thread scratch for Vp, reused across calls.
float* pairScratch(size_t floats);

}  // namespace winograd
}  // namespace cr
