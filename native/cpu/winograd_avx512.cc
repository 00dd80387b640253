// AVX-512 transforms of Winograd F(2x2, 3x3): see winograd_avx512.h for the layout and winograd.cc
// for the transform matrices. Every function carries the AVX-512 target attribute; winograd.cc
// calls them only under CpuIsa::Avx512.
#include "winograd_avx512.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>

#include "../core/cpu_targets.h"
#include "bf16_vec.h"
#endif

namespace cr {
namespace winograd {

#if defined(__x86_64__)
namespace {


inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Lanes lo <= l < hi of a 16-lane mask (0 <= lo, hi <= 16).
inline __mmask16 laneRange(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Even and odd elements of the 32 floats (l0, l1): [l0_0 l0_2 .. l1_14] and [l0_1 l0_3 .. l1_15].
CR_TARGET_AVX512 inline void deinterleave(__m512 l0, __m512 l1, __m512& even, __m512& odd) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  even = _mm512_permutex2var_ps(l0, ie, l1);
  odd = _mm512_permutex2var_ps(l0, io, l1);
}

// Row width of the part's buffer: the 2 tW + 2 columns of a padded plane row that its tiles read,
// in whole cache lines.
inline int64_t bufferWidth(int64_t tW) { return (2 * tW + 2 + 15) / 16 * 16; }

// buf row i (width wb) = plane row r0 + i from column c0 on, 0 outside the (rows, cols) plane, for
// i < count. Lanes outside each load's mask are neither read nor faulted on: the address may lie
// outside the plane.
CR_TARGET_AVX512 void fillRows(const float* plane, int64_t rows, int64_t cols, int64_t r0, int64_t count, int64_t c0,
                        int64_t wb, float* buf) {
  for (int64_t i = 0; i < count; ++i) {
    float* dst = buf + i * wb;
    const int64_t r = r0 + i;
    if (r < 0 || r >= rows) {
      for (int64_t j = 0; j < wb; j += 16) _mm512_storeu_ps(dst + j, _mm512_setzero_ps());
      continue;
    }
    const float* row = plane + r * cols;
    // The same row of the next plane (the next channel), read next: masked loads alone do not
    // keep the hardware prefetchers ahead. Prefetches never fault.
    for (int64_t j = 0; j < cols; j += 16) _mm_prefetch(reinterpret_cast<const char*>(row + rows * cols + j), _MM_HINT_T0);
    for (int64_t j = 0; j < wb; j += 16) {
      const int64_t c = c0 + j;
      const __mmask16 m = laneRange(-c, cols - c);
      // Whole vectors by plain loads: masked loads from memory just stored to cost more.
      const __m512 v = m == 0xFFFF ? _mm512_loadu_ps(row + c) : m ? _mm512_maskz_loadu_ps(m, row + c) : _mm512_setzero_ps();
      _mm512_storeu_ps(dst + j, v);
    }
  }
}

// Loads the 32 floats of patch row `a` at column offset `shift` (0 or 2) for the 16 tiles of the
// 16 / tW whole tile rows from buffer tile row trow, as two vectors (tiles 0..7, 8..15): a half is
// P = 8 / tW tile rows, tile row trow + j of a half at its lanes 2 tW j .. 2 tW j + 2 tW - 1, lane
// e reading buffer column e - 2 tW j + shift. Tile rows at or past `rowsLeft` are not read (0).
// P = 0 stands for tW = 16: the 16 tiles are tile row trow, lo its columns 0..15 and hi 16..31.
template <int P>
CR_TARGET_AVX512 inline void loadPatchRow(const float* buf, int64_t wb, int64_t tW, int64_t trow, int64_t rowsLeft, int a,
                                   int64_t shift, __m512& lo, __m512& hi) {
  if constexpr (P == 0) {
    const float* src = buf + (2 * trow + a) * wb + shift;
    lo = _mm512_loadu_ps(src);
    hi = _mm512_loadu_ps(src + 16);
    return;
  }
  __m512 v[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 8
  for (int h = 0; h < 2; ++h)
#pragma GCC unroll 8
    for (int j = 0; j < P; ++j) {
      const int64_t t = h * P + j;  // tile row of the vector
      if (t >= rowsLeft) break;
      const float* src = buf + (2 * (trow + t) + a) * wb + shift - 2 * tW * j;
      // Lanes outside the mask are neither read nor faulted on.
      v[h] = P == 1 ? _mm512_loadu_ps(src)
                    : _mm512_mask_loadu_ps(v[h], laneRange(2 * tW * j, 2 * tW * (j + 1)), src);
    }
  lo = v[0];
  hi = v[1];
}

// The input transform V = B^T d B of the 16 tiles from buffer tile row trow: v[xi].
template <int P>
CR_TARGET_AVX512 inline void inputTiles(const float* buf, int64_t wb, int64_t tW, int64_t trow, int64_t rowsLeft,
                                 __m512 v[16]) {
  __m512 h[4][4];  // d B, row a
#pragma GCC unroll 4
  for (int a = 0; a < 4; ++a) {
    __m512 l0, l1, l2, l3, d0, d1, d2, d3;
    loadPatchRow<P>(buf, wb, tW, trow, rowsLeft, a, 0, l0, l1);
    loadPatchRow<P>(buf, wb, tW, trow, rowsLeft, a, 2, l2, l3);
    deinterleave(l0, l1, d0, d1);
    deinterleave(l2, l3, d2, d3);
    h[a][0] = _mm512_sub_ps(d0, d2);
    h[a][1] = _mm512_add_ps(d1, d2);
    h[a][2] = _mm512_sub_ps(d2, d1);
    h[a][3] = _mm512_sub_ps(d1, d3);
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    v[0 + k] = _mm512_sub_ps(h[0][k], h[2][k]);
    v[4 + k] = _mm512_add_ps(h[1][k], h[2][k]);
    v[8 + k] = _mm512_sub_ps(h[2][k], h[1][k]);
    v[12 + k] = _mm512_sub_ps(h[1][k], h[3][k]);
  }
}

// The gradient transform Z = A dY A^T, A = [1 0; 1 1; 1 -1; 0 -1], of the 16 tiles: v[xi].
template <int P>
CR_TARGET_AVX512 inline void gradTiles(const float* buf, int64_t wb, int64_t tW, int64_t trow, int64_t rowsLeft,
                                __m512 v[16]) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 y[2][2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    __m512 l0, l1;
    loadPatchRow<P>(buf, wb, tW, trow, rowsLeft, i, 0, l0, l1);
    deinterleave(l0, l1, y[i][0], y[i][1]);
  }
  __m512 r[4][2];  // A dY
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
    r[0][j] = y[0][j];
    r[1][j] = _mm512_add_ps(y[0][j], y[1][j]);
    r[2][j] = _mm512_sub_ps(y[0][j], y[1][j]);
    r[3][j] = _mm512_sub_ps(zero, y[1][j]);
  }
#pragma GCC unroll 4
  for (int a = 0; a < 4; ++a) {
    v[4 * a + 0] = r[a][0];
    v[4 * a + 1] = _mm512_add_ps(r[a][0], r[a][1]);
    v[4 * a + 2] = _mm512_sub_ps(r[a][0], r[a][1]);
    v[4 * a + 3] = _mm512_sub_ps(zero, r[a][1]);
  }
}

// Tile rows of one 16-tile step (P = 8 / tW, or 0 for tW = 16).
constexpr int64_t stepRows(int P) { return P == 0 ? 1 : 2 * P; }

// The rowsTotal tile rows of the buffer (P = 8 / tW, or 0 for tW = 16), 16 tiles a step: the input transform (patch
// 4) or the gradient transform (patch 2) to dst[xi * xiStride + i], or with tilePairs rounded to
// bfloat16 and paired tile with tile to dst[xi * xiStride + i / 2] (bf16::pairNeighbours' words).
template <int P>
CR_TARGET_AVX512 void transformRows(int patch, const float* buf, int64_t wb, int64_t tW, int64_t rowsTotal, float* dst,
                             int64_t xiStride, bool tilePairs) {
  const int64_t step = stepRows(P);
  for (int64_t trow = 0; trow < rowsTotal; trow += step) {
    const int64_t left = rowsTotal - trow, count = std::min(left, step) * tW;
    __m512 v[16];
    if (patch == 4)
      inputTiles<P>(buf, wb, tW, trow, left, v);
    else
      gradTiles<P>(buf, wb, tW, trow, left, v);
    if (tilePairs) {
      const __mmask8 m = static_cast<__mmask8>(laneRange(0, (count + 1) / 2));
      float* d = dst + trow * tW / 2;
#pragma GCC unroll 16
      for (int xi = 0; xi < 16; ++xi) {
        const __m512i bits = _mm512_maskz_srli_epi32(0xFFFF, bf16::roundedBits(_mm512_castps_si512(v[xi])), 16);
        _mm256_mask_storeu_epi32(d + xi * xiStride, m, _mm512_maskz_cvtepi32_epi16(0xFFFF, bits));
      }
      continue;
    }
    const __mmask16 m = laneRange(0, count);
    float* d = dst + trow * tW;
#pragma GCC unroll 16
    for (int xi = 0; xi < 16; ++xi) _mm512_mask_storeu_ps(d + xi * xiStride, m, v[xi]);
  }
}

// The input transform of the rowsTotal tile rows of two channels' buffers (hi null: zero), rounded
// to bfloat16 and paired channel with channel to dst[xi * xiStride + i] (bf16::pairLanes' words).
template <int P>
CR_TARGET_AVX512 void inputRowsChannelPairs(const float* lo, const float* hi, int64_t wb, int64_t tW, int64_t rowsTotal,
                                     float* dst, int64_t xiStride) {
  const int64_t step = stepRows(P);
  for (int64_t trow = 0; trow < rowsTotal; trow += step) {
    const int64_t left = rowsTotal - trow;
    const __mmask16 m = laneRange(0, std::min(left, step) * tW);
    __m512 a[16], b[16];
    inputTiles<P>(lo, wb, tW, trow, left, a);
    if (hi)
      inputTiles<P>(hi, wb, tW, trow, left, b);
    else
      for (int xi = 0; xi < 16; ++xi) b[xi] = _mm512_setzero_ps();
    float* d = dst + trow * tW;
#pragma GCC unroll 16
    for (int xi = 0; xi < 16; ++xi) _mm512_mask_storeu_epi32(d + xi * xiStride, m, bf16::pairLanes(a[xi], b[xi]));
  }
}

}  // namespace

bool transformPlaneAvx512Fits(int patch, int64_t tW, int64_t r0, int64_t r1, bool bf16Pairs) {
  const bool width = (tW <= (patch == 4 || bf16Pairs ? 8 : 4) && 8 % tW == 0) || (bf16Pairs && tW == 16);
  return width && r0 % tW == 0 && r1 % tW == 0;
}

int64_t planeBufferFloatsAvx512(int64_t tiles, int64_t tW) { return ((tiles + tW - 1) / tW * 2 + 6) * bufferWidth(tW); }

CR_TARGET_AVX512 void transformPlaneAvx512(int patch, const float* plane, int64_t rows, int64_t cols, int64_t padH,
                                    int64_t padW, int64_t tW, int64_t r0, int64_t r1, float* dst, int64_t xiStride,
                                    float* buf, bool tilePairs) {
  if (patch == 2) padH = padW = 0;
  const int64_t th0 = r0 / tW, th1 = (r1 - 1) / tW + 1, wb = bufferWidth(tW);
  fillRows(plane, rows, cols, 2 * th0 - padH, 2 * (th1 - th0) + patch - 2, -padW, wb, buf);
  switch (tW) {
    case 1: transformRows<8>(patch, buf, wb, tW, th1 - th0, dst, xiStride, tilePairs); return;
    case 2: transformRows<4>(patch, buf, wb, tW, th1 - th0, dst, xiStride, tilePairs); return;
    case 4: transformRows<2>(patch, buf, wb, tW, th1 - th0, dst, xiStride, tilePairs); return;
    case 16: transformRows<0>(patch, buf, wb, tW, th1 - th0, dst, xiStride, tilePairs); return;
    default: transformRows<1>(patch, buf, wb, tW, th1 - th0, dst, xiStride, tilePairs); return;
  }
}

CR_TARGET_AVX512 void inputTransformChannelPairAvx512(const float* lo, const float* hi, int64_t rows, int64_t cols,
                                               int64_t padH, int64_t padW, int64_t tW, int64_t r0, int64_t r1,
                                               float* dst, int64_t xiStride, float* buf) {
  const int64_t th0 = r0 / tW, th1 = (r1 - 1) / tW + 1, wb = bufferWidth(tW);
  const int64_t count = 2 * (th1 - th0) + 2;
  float* bufHi = buf + planeBufferFloatsAvx512(r1 - r0, tW);
  fillRows(lo, rows, cols, 2 * th0 - padH, count, -padW, wb, buf);
  if (hi) fillRows(hi, rows, cols, 2 * th0 - padH, count, -padW, wb, bufHi);
  const float* h = hi ? bufHi : nullptr;
  switch (tW) {
    case 1: inputRowsChannelPairs<8>(buf, h, wb, tW, th1 - th0, dst, xiStride); return;
    case 2: inputRowsChannelPairs<4>(buf, h, wb, tW, th1 - th0, dst, xiStride); return;
    case 4: inputRowsChannelPairs<2>(buf, h, wb, tW, th1 - th0, dst, xiStride); return;
    case 16: inputRowsChannelPairs<0>(buf, h, wb, tW, th1 - th0, dst, xiStride); return;
    default: inputRowsChannelPairs<1>(buf, h, wb, tW, th1 - th0, dst, xiStride); return;
  }
}

CR_TARGET_AVX512 void outputTransformPlaneAvx512(const float* m, int64_t xiStride, int64_t r0, int64_t r1, int64_t tW,
                                          float bias, float* y, int64_t Ho, int64_t Wo, bool round) {
  const __m512 b = _mm512_set1_ps(bias);
  const __m512i lo16 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi16 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t qa = r0; qa < r1; qa += 16) {
    const int64_t qb = std::min(qa + 16, r1);
    const float* mt = m + (qa - r0);
    const __mmask16 valid = laneRange(0, qb - qa);
    __m512 s[2][4];  // A^T M, row i
    for (int k = 0; k < 4; ++k) {
      const __m512 m0 = _mm512_maskz_loadu_ps(valid, mt + (0 + k) * xiStride);
      const __m512 m1 = _mm512_maskz_loadu_ps(valid, mt + (4 + k) * xiStride);
      const __m512 m2 = _mm512_maskz_loadu_ps(valid, mt + (8 + k) * xiStride);
      const __m512 m3 = _mm512_maskz_loadu_ps(valid, mt + (12 + k) * xiStride);
      s[0][k] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s[1][k] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    for (int i = 0; i < 2; ++i) {
      __m512 a = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]), b);
      __m512 c = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
      if (round) {
        a = bf16::rounded(a);
        c = bf16::rounded(c);
      }
      // Lane l of (lo, hi) is output column l % 2 of tile qa + l / 2.
      const __m512 lo = _mm512_permutex2var_ps(a, lo16, c), hi = _mm512_permutex2var_ps(a, hi16, c);
      for (int64_t th = qa / tW; th * tW < qb; ++th) {
        const int64_t row = 2 * th + i;
        if (row >= Ho) break;
        // Lanes [l0, l1) hold this tile row's outputs; lane l is column 2 (qa - th tW) + l.
        const int64_t shift = 2 * (qa - th * tW);
        const int64_t l0 = 2 * (std::max(qa, th * tW) - qa);
        const int64_t l1 = std::min(2 * (std::min(qb, (th + 1) * tW) - qa), Wo - shift);
        float* base = y + row * Wo + shift;  // lanes outside [l0, l1) are not stored
        _mm512_mask_storeu_ps(base, laneRange(l0, l1), lo);
        _mm512_mask_storeu_ps(base + 16, laneRange(l0 - 16, l1 - 16), hi);
      }
    }
  }
}

#else  // not x86-64: winograd.cc never calls these

bool transformPlaneAvx512Fits(int, int64_t, int64_t, int64_t, bool) { return false; }
int64_t planeBufferFloatsAvx512(int64_t, int64_t) { return 0; }
void transformPlaneAvx512(int, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*,
                          int64_t, float*, bool) {}
void inputTransformChannelPairAvx512(const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                     int64_t, float*, int64_t, float*) {}
void outputTransformPlaneAvx512(const float*, int64_t, int64_t, int64_t, int64_t, float, float*, int64_t, int64_t,
                                bool) {}

#endif

}  // namespace winograd
}  // namespace cr
