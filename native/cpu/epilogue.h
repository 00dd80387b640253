// The epilogue of a fused convolution (convBiasAct) and of the GEMM that computes it:
//   C[i][j] = act(C[i][j] + bias[i] + z[i][j]),   act = ReLU or the identity,
// applied to each block of the output right after the block is computed, while it is still in
// cache, instead of in separate passes over the whole output. The terms are added in that order
// (bias first, then z), as conv2d with a bias, add and relu compute them one after another, and
// the ReLU keeps NaN as relu() does.
#pragma once
#include <cstdint>

namespace cr {

struct Epilogue {
  const float* bias = nullptr;  // (M): one value per row of C, or null
  const float* z = nullptr;     // (M, N) with row stride ldz, or null
  int64_t ldz = 0;
  bool relu = false;
};

inline float reluKeepingNan(float v) { return v > 0.0f ? v : (v != v ? v : 0.0f); }

// y[j] = act(y[j] + bias + z[j]) for j in [0, n); bias and z may be null. Three short loops over a
// row that is in L1 (each vectorises; the order of the additions is kept).
inline void epilogueRow(float* __restrict y, const float* __restrict z, const float* bias, bool relu, int64_t n) {
  if (bias) {
    const float b = *bias;
    for (int64_t j = 0; j < n; ++j) y[j] += b;
  }
  if (z)
    for (int64_t j = 0; j < n; ++j) y[j] += z[j];
  if (relu)
    for (int64_t j = 0; j < n; ++j) y[j] = reluKeepingNan(y[j]);
}

// The epilogue on rows [i0, i0 + rows) and columns [j0, j0 + cols) of C (M, N) with row stride ldc.
inline void applyEpilogue(const Epilogue& e, float* C, int64_t ldc, int64_t i0, int64_t j0, int64_t rows,
                          int64_t cols) {
  for (int64_t i = i0; i < i0 + rows; ++i)
    epilogueRow(C + i * ldc + j0, e.z ? e.z + i * e.ldz + j0 : nullptr, e.bias ? e.bias + i : nullptr, e.relu, cols);
}

}  // namespace cr
