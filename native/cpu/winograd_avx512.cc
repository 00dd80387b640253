// AVX-512 transforms of Winograd F(2x2, 3x3): see winograd_avx512.h for the layout and winograd.cc
// for the transform matrices. Every function carries the AVX-512 target attribute; winograd.cc
// calls them only under CpuIsa::Avx512.
#include "winograd_avx512.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cr {
namespace winograd {

#if defined(__x86_64__)
namespace {

#define CR_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Floats of one row buffer: `segments` tile rows of 2 tW floats, and slack for the 16-float
// stores of fillRow and the 32-float reads of the transforms past the last segment.
inline int64_t rowBufferLength(int64_t segments, int64_t tW) { return segments * 2 * tW + 48; }

// Lanes lo <= l < hi of a 16-lane mask (0 <= lo, hi <= 16).
inline __mmask16 laneRange(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// dst[j] = plane[r][col0 + j] for j in [0, len), 0 outside the (rows, cols) plane. Stores whole
// vectors: up to 15 floats past len are overwritten too (with zeros or row data).
CR_AVX512 void fillRow(const float* plane, int64_t r, int64_t rows, int64_t cols, int64_t col0, int64_t len,
                       float* dst) {
  if (r < 0 || r >= rows) {
    for (int64_t j = 0; j < len; j += 16) _mm512_storeu_ps(dst + j, _mm512_setzero_ps());
    return;
  }
  const float* row = plane + r * cols;
  for (int64_t j = 0; j < len; j += 16) {
    const int64_t c = col0 + j;  // plane column of lane 0
    const __mmask16 m = laneRange(-c, cols - c);
    // Lanes outside m are neither read nor faulted on: the address may lie outside the row.
    _mm512_storeu_ps(dst + j, _mm512_maskz_loadu_ps(m, row + c));
  }
}

// Even and odd elements of the 32 floats p[0..32): [p0 p2 .. p30] and [p1 p3 .. p31].
CR_AVX512 inline void deinterleave(const float* p, __m512& even, __m512& odd) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 l0 = _mm512_loadu_ps(p), l1 = _mm512_loadu_ps(p + 16);
  even = _mm512_permutex2var_ps(l0, ie, l1);
  odd = _mm512_permutex2var_ps(l0, io, l1);
}

// Input transform V = B^T d B of `count` tiles whose patch row a, column k (k = 0, 1 from
// s0[a], k = 2, 3 from s2[a]) lies at 2 t + k mod 2 of the row buffers, t the tile's index.
CR_AVX512 void inputTransform(const float* const s0[4], const float* const s2[4], int64_t count, float* dst,
                              int64_t xiStride) {
  for (int64_t t = 0; t < count; t += 16) {
    const __mmask16 m = laneRange(0, count - t);
    __m512 h[4][4];  // d B, row a
    for (int a = 0; a < 4; ++a) {
      __m512 d0, d1, d2, d3;
      deinterleave(s0[a] + 2 * t, d0, d1);
      deinterleave(s2[a] + 2 * t, d2, d3);
      h[a][0] = _mm512_sub_ps(d0, d2);
      h[a][1] = _mm512_add_ps(d1, d2);
      h[a][2] = _mm512_sub_ps(d2, d1);
      h[a][3] = _mm512_sub_ps(d1, d3);
    }
    float* o = dst + t;
    for (int k = 0; k < 4; ++k) {
      _mm512_mask_storeu_ps(o + (0 + k) * xiStride, m, _mm512_sub_ps(h[0][k], h[2][k]));
      _mm512_mask_storeu_ps(o + (4 + k) * xiStride, m, _mm512_add_ps(h[1][k], h[2][k]));
      _mm512_mask_storeu_ps(o + (8 + k) * xiStride, m, _mm512_sub_ps(h[2][k], h[1][k]));
      _mm512_mask_storeu_ps(o + (12 + k) * xiStride, m, _mm512_sub_ps(h[1][k], h[3][k]));
    }
  }
}

// The filter gradient's Z = A dY A^T, A = [1 0; 1 1; 1 -1; 0 -1], of `count` tiles whose dy row i
// (of 2), column j lies at 2 t + j of rows[i].
CR_AVX512 void gradTransform(const float* const rows[2], int64_t count, float* dst, int64_t xiStride) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t t = 0; t < count; t += 16) {
    const __mmask16 m = laneRange(0, count - t);
    __m512 y[2][2];
    for (int i = 0; i < 2; ++i) deinterleave(rows[i] + 2 * t, y[i][0], y[i][1]);
    __m512 r[4][2];  // A dY
    for (int j = 0; j < 2; ++j) {
      r[0][j] = y[0][j];
      r[1][j] = _mm512_add_ps(y[0][j], y[1][j]);
      r[2][j] = _mm512_sub_ps(y[0][j], y[1][j]);
      r[3][j] = _mm512_sub_ps(zero, y[1][j]);
    }
    float* o = dst + t;
    for (int a = 0; a < 4; ++a) {
      _mm512_mask_storeu_ps(o + (4 * a + 0) * xiStride, m, r[a][0]);
      _mm512_mask_storeu_ps(o + (4 * a + 1) * xiStride, m, _mm512_add_ps(r[a][0], r[a][1]));
      _mm512_mask_storeu_ps(o + (4 * a + 2) * xiStride, m, _mm512_sub_ps(r[a][0], r[a][1]));
      _mm512_mask_storeu_ps(o + (4 * a + 3) * xiStride, m, _mm512_sub_ps(zero, r[a][1]));
    }
  }
}

}  // namespace

int64_t planeBufferFloatsAvx512(int64_t tiles, int64_t tW) { return 4 * rowBufferLength(ceilDiv(tiles, tW) + 2, tW); }

CR_AVX512 void transformPlaneAvx512(int patch, const float* plane, int64_t rows, int64_t cols, int64_t padH,
                                    int64_t padW, int64_t tW, int64_t r0, int64_t r1, float* dst, int64_t xiStride,
                                    float* buf) {
  const int64_t th0 = r0 / tW, th1 = (r1 - 1) / tW, seg = 2 * tW;
  const int64_t first = r0 - th0 * tW, count = r1 - r0;
  // Buffers: rows 2th - padH (even) and 2th + 1 - padH (odd) for th0 <= th < th0 + segments,
  // from column -padW (shift 0) and 2 - padW (shift 2).
  const int64_t segments = th1 - th0 + (patch == 4 ? 2 : 1), length = rowBufferLength(segments, tW);
  float* even0 = buf;
  float* odd0 = buf + length;
  float* even2 = buf + 2 * length;
  float* odd2 = buf + 3 * length;
  const int64_t rowBase = 2 * th0 - (patch == 4 ? padH : 0), colBase = patch == 4 ? -padW : 0;
  for (int64_t s = 0; s < segments; ++s)
    for (int parity = 0; parity < 2; ++parity) {
      const int64_t r = rowBase + 2 * s + parity;
      fillRow(plane, r, rows, cols, colBase, seg, (parity ? odd0 : even0) + s * seg);
      if (patch == 4) fillRow(plane, r, rows, cols, colBase + 2, seg, (parity ? odd2 : even2) + s * seg);
    }
  const int64_t at = 2 * first;
  if (patch == 4) {
    const float* const s0[4] = {even0 + at, odd0 + at, even0 + seg + at, odd0 + seg + at};
    const float* const s2[4] = {even2 + at, odd2 + at, even2 + seg + at, odd2 + seg + at};
    inputTransform(s0, s2, count, dst, xiStride);
  } else {
    const float* const r[2] = {even0 + at, odd0 + at};
    gradTransform(r, count, dst, xiStride);
  }
}

CR_AVX512 void outputTransformPlaneAvx512(const float* m, int64_t xiStride, int64_t r0, int64_t r1, int64_t tW,
                                          float bias, float* y, int64_t Ho, int64_t Wo) {
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
      const __m512 a = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]), b);
      const __m512 c = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
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

int64_t planeBufferFloatsAvx512(int64_t, int64_t) { return 0; }
void transformPlaneAvx512(int, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*,
                          int64_t, float*) {}
void outputTransformPlaneAvx512(const float*, int64_t, int64_t, int64_t, int64_t, float, float*, int64_t, int64_t) {}

#endif

}  // namespace winograd
}  // namespace cr
