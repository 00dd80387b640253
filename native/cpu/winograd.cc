// Winograd F(2x2, 3x3): see winograd.h for the scheme.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    (input transform, V = B^T d B)
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (filter transform, U = G g G^T)
//   A^T = [1 1 1 0; 0 1 -1 -1]                       (output transform, y = A^T M A)
// xi = 4 * a + k indexes the 4x4 transformed tile (a: row, k: column).
//
// Layouts inside a chunk of `nt` tiles (tiles numbered across the batch: t = (n * tH + th) * tW + tw,
// tile (th, tw) covers outputs rows 2th, 2th + 1 and columns 2tw, 2tw + 1):
//   V[xi][c][ld]  transformed input, tiles contiguous; the 16 blocks V[xi] blockStride apart
//   M[xi][o][ld]  products, tiles contiguous; likewise
//   U[xi][o / 4][c][4]  transformed weights, packed in 4-row panels for the micro-kernel
// Vector code processes 8 tiles of one tile row at a time (AVX2), reading 2x-strided input
// columns with a deinterleave. Under the AVX-512 instruction set the products (kernel4x24) and
// the filter gradient's dot products use 512-bit FMAs, and the transforms of small images (8 or
// fewer tiles a row for the input transform, 4 or fewer for the others) work on 16 tiles a vector
// across tile rows (winograd_avx512.h); wider tile rows keep the AVX2 transforms, which measured
// faster there.
// F(4x4, 3x3) (36 products for 16 outputs) is not used: its float32 error, simulated on ResNet
// shapes, is 3e-6 .. 1.1e-5 of the largest output (F(2x2, 3x3) and direct: 2e-7 .. 6e-7).
#include "winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/cpu_targets.h"
#include "../core/parallel.h"
#include "epilogue.h"
#include "winograd_avx512.h"
#include "winograd_bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cr {
namespace winograd {

#if defined(__x86_64__)
namespace {

constexpr int kXi = 16;             // transformed tile size, 4 x 4
constexpr int64_t MR = 4, NR = 24;  // micro-kernel tile: 4 output channels x 24 tiles

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Scratch memory of the calling thread, reused across calls; 64-byte aligned.
float* scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats + 16) buffer.resize(floats + 16);
  const uintptr_t at = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - at % 64) % 64) / sizeof(float);
}

// Row stride of V and M for chunks of bt tiles: whole 24-tile blocks and 8 floats more (no
// power-of-two strides).
int64_t rowStride(int64_t bt) { return roundUp(bt, NR) + 8; }

// Stride of the 16 blocks V[xi] (or M[xi]) of `rows` rows ld apart: an odd number of cache lines,
// so that the 16 blocks' rows map to 16 different cache sets (with power-of-two channel counts,
// rows * ld is often a multiple of 4 KiB, and the transforms' 16 streams would share one set).
int64_t blockStride(int64_t rows, int64_t ld) {
  const int64_t s = roundUp(rows * ld, 16);
  return s % 32 == 0 ? s + 16 : s;
}

// Calls fn(n, th, twBegin, twEnd, p) for the runs of tiles [t0, t0 + nt) that lie in one tile row;
// p is the position of the run's first tile in the chunk.
template <typename F>
void forEachRun(int64_t t0, int64_t nt, int64_t tH, int64_t tW, const F& fn) {
  const int64_t perImage = tH * tW;
  for (int64_t t = t0; t < t0 + nt;) {
    const int64_t n = t / perImage, r = t % perImage, th = r / tW, tw = r % tW;
    const int64_t e = std::min(t0 + nt, t + (tW - tw));
    fn(n, th, tw, tw + (e - t), t - t0);
    t = e;
  }
}

// Calls fn(n, r0, r1, pos) for the parts of tiles [t0, t0 + nt) that lie in one image: tiles
// r0 <= r < r1 of image n (r = th * tW + tw), the first at position pos of the chunk.
template <typename F>
void forEachImagePart(int64_t t0, int64_t nt, int64_t tH, int64_t tW, const F& fn) {
  const int64_t perImage = tH * tW;
  for (int64_t t = t0; t < t0 + nt;) {
    const int64_t n = t / perImage, e = std::min(t0 + nt, (n + 1) * perImage);
    fn(n, t - n * perImage, e - n * perImage, t - t0);
    t = e;
  }
}


// buf[j] = plane[r][col0 + j] for j in [0, len), 0 outside the (rows, cols) plane. Inline loops:
// the rows are short, and library calls cost more than the copy.
CR_TARGET_AVX2 inline void fillRow(const float* plane, int64_t r, int64_t rows, int64_t cols, int64_t col0, int64_t len,
                            float* buf) {
  if (r < 0 || r >= rows) {
    for (int64_t j = 0; j < len; ++j) buf[j] = 0.0f;
    return;
  }
  const float* row = plane + r * cols + col0;
  const int64_t jlo = std::min(len, std::max<int64_t>(0, -col0));
  const int64_t jhi = std::max(jlo, std::min(len, cols - col0));
  for (int64_t j = 0; j < jlo; ++j) buf[j] = 0.0f;
  int64_t j = jlo;
  for (; j + 8 <= jhi; j += 8) _mm256_storeu_ps(buf + j, _mm256_loadu_ps(row + j));
  for (; j < jhi; ++j) buf[j] = row[j];
  for (j = jhi; j < len; ++j) buf[j] = 0.0f;
}

// [a0 a2 a4 a6 b0 b2 b4 b6] and [a1 a3 a5 a7 b1 b3 b5 b7].
CR_TARGET_AVX2 inline __m256 evens(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
CR_TARGET_AVX2 inline __m256 odds(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Input transform of `count` tiles of one tile row and one channel. rows[a][j] holds input row a
// of the tiles at column j relative to the first tile's patch (2 * count + 16 readable floats).
// Writes dst[xi * xiStride + t], t < roundUp(count, 8) (lanes past count hold garbage).
CR_TARGET_AVX2 void inputTransformRun(const float* const rows[4], int64_t count, float* dst, int64_t xiStride) {
  for (int64_t t = 0; t < count; t += 8) {
    __m256 h[4][4];
    for (int a = 0; a < 4; ++a) {
      const float* s = rows[a] + 2 * t;
      const __m256 l0 = _mm256_loadu_ps(s), l1 = _mm256_loadu_ps(s + 8);
      const __m256 l2 = _mm256_loadu_ps(s + 2), l3 = _mm256_loadu_ps(s + 10);
      const __m256 d0 = evens(l0, l1), d1 = odds(l0, l1), d2 = evens(l2, l3), d3 = odds(l2, l3);
      h[a][0] = _mm256_sub_ps(d0, d2);
      h[a][1] = _mm256_add_ps(d1, d2);
      h[a][2] = _mm256_sub_ps(d2, d1);
      h[a][3] = _mm256_sub_ps(d1, d3);
    }
    float* o = dst + t;
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(o + (0 + k) * xiStride, _mm256_sub_ps(h[0][k], h[2][k]));
      _mm256_storeu_ps(o + (4 + k) * xiStride, _mm256_add_ps(h[1][k], h[2][k]));
      _mm256_storeu_ps(o + (8 + k) * xiStride, _mm256_sub_ps(h[2][k], h[1][k]));
      _mm256_storeu_ps(o + (12 + k) * xiStride, _mm256_sub_ps(h[1][k], h[3][k]));
    }
  }
}

// Adjoint of the output transform for the filter gradient: Z = A dY A^T, A = [1 0; 1 1; 1 -1; 0 -1],
// for `count` tiles; rows[i][j] is dy row i (of 2) at column j relative to the first tile.
CR_TARGET_AVX2 void gradTransformRun(const float* const rows[2], int64_t count, float* dst, int64_t xiStride) {
  for (int64_t t = 0; t < count; t += 8) {
    __m256 y[2][2];
    for (int i = 0; i < 2; ++i) {
      const float* s = rows[i] + 2 * t;
      const __m256 l0 = _mm256_loadu_ps(s), l1 = _mm256_loadu_ps(s + 8);
      y[i][0] = evens(l0, l1);
      y[i][1] = odds(l0, l1);
    }
    __m256 r[4][2];  // A dY
    for (int j = 0; j < 2; ++j) {
      r[0][j] = y[0][j];
      r[1][j] = _mm256_add_ps(y[0][j], y[1][j]);
      r[2][j] = _mm256_sub_ps(y[0][j], y[1][j]);
      r[3][j] = _mm256_sub_ps(_mm256_setzero_ps(), y[1][j]);
    }
    float* o = dst + t;
    for (int a = 0; a < 4; ++a) {
      _mm256_storeu_ps(o + (4 * a + 0) * xiStride, r[a][0]);
      _mm256_storeu_ps(o + (4 * a + 1) * xiStride, _mm256_add_ps(r[a][0], r[a][1]));
      _mm256_storeu_ps(o + (4 * a + 2) * xiStride, _mm256_sub_ps(r[a][0], r[a][1]));
      _mm256_storeu_ps(o + (4 * a + 3) * xiStride, _mm256_sub_ps(_mm256_setzero_ps(), r[a][1]));
    }
  }
}

// Floats of the row buffer that transformChunk needs for chunks of up to bt tiles.
int64_t rowBufferFloats(int64_t bt, int64_t tW) {
  return std::max((2 * ceilDiv(bt, tW) + 6) * (2 * tW + 24), 2 * planeBufferFloatsAvx512(bt, tW));
}

// How transformChunk writes its results: float32, or for the bfloat16 products (winograd_bf16.h)
// rounded to bfloat16 and paired channel with channel (the convolution's V) or tile with tile (the
// filter gradient's Z and V).
enum class Pairing { None, Channels, Tiles };

// Floats of the buffer that transformChunk needs for pairing on the AVX2 path.
int64_t pairBufferFloats(int64_t ld) { return kXi * blockStride(2, ld); }

// Transforms tiles [t0, t0 + nt) of the channels [c0, c0 + cl) of src (N, channels, rows, cols) into
// dst[xi][c][ld]: the input transform (patch 4: rows 2th - padH .. + 3, columns 2tw - padW .. + 3) or,
// with patch 2, the gradient transform of dy (rows 2th, 2th + 1, columns 2tw, 2tw + 1; pads 0).
// Each image's rows are first copied once per channel into buf with zero padding. Under AVX-512,
// parts of small images are transformed 16 tiles at a time across tile rows (winograd_avx512.h).
// Pairing::Channels (patch 4) writes dst[xi][c / 2][ld] instead, blocks blockStride(ceil(cl / 2), ld)
// apart, each float channels c and c + 1 (zero past cl) in bfloat16; Pairing::Tiles writes
// dst[xi][c][pairLd], blocks blockStride(cl, pairLd) apart, each float tiles 2i and 2i + 1 of the
// chunk (t0 and each image's tile count even). Both under AVX-512 only: its transforms pair in
// registers where they fit (winograd_avx512.h); the AVX2 path transforms into pairBuf
// (pairBufferFloats(ld)) first and pairs from there.
void transformChunk(int patch, const float* src, int64_t channels, int64_t rows, int64_t cols, int64_t padH,
                    int64_t padW, int64_t tH, int64_t tW, int64_t t0, int64_t nt, int64_t c0, int64_t cl, float* dst,
                    int64_t ld, float* buf, Pairing pairing = Pairing::None, float* pairBuf = nullptr,
                    int64_t pairLd = 0) {
  const int64_t wpad = 2 * tW + 24;
  const int64_t xiStride = pairing == Pairing::None       ? blockStride(cl, ld)
                           : pairing == Pairing::Channels ? blockStride((cl + 1) / 2, ld)
                                                          : blockStride(cl, pairLd);
  const bool avx512 = cpuIsa() == CpuIsa::Avx512;
  forEachImagePart(t0, nt, tH, tW, [&](int64_t n, int64_t r0, int64_t r1, int64_t pos0) {
    const auto planeOf = [&](int64_t c) { return src + (n * channels + c0 + c) * rows * cols; };
    if (avx512 && transformPlaneAvx512Fits(patch, tW, r0, r1, pairing != Pairing::None)) {
      if (pairing == Pairing::Channels) {
        for (int64_t c = 0; c < cl; c += 2)
          inputTransformChannelPairAvx512(planeOf(c), c + 1 < cl ? planeOf(c + 1) : nullptr, rows, cols, padH, padW,
                                          tW, r0, r1, dst + c / 2 * ld + pos0, xiStride, buf);
        return;
      }
      const bool tiles = pairing == Pairing::Tiles;
      for (int64_t c = 0; c < cl; ++c)
        transformPlaneAvx512(patch, planeOf(c), rows, cols, padH, padW, tW, r0, r1,
                             tiles ? dst + c * pairLd + pos0 / 2 : dst + c * ld + pos0, xiStride, buf, tiles);
      return;
    }
    const int64_t th0 = r0 / tW, th1 = (r1 - 1) / tW;
    const int64_t rowCount = 2 * (th1 - th0) + patch, rowBase = 2 * th0 - padH;
    // Channel c of the part into out[xi * outXi + pos].
    const auto transformChannel = [&](int64_t c, float* out, int64_t outXi) {
      const float* plane = planeOf(c);
      for (int64_t i = 0; i < rowCount; ++i) fillRow(plane, rowBase + i, rows, cols, -padW, wpad, buf + i * wpad);
      for (int64_t th = th0; th <= th1; ++th) {
        const int64_t twA = th == th0 ? r0 % tW : 0, twB = th == th1 ? (r1 - 1) % tW + 1 : tW;
        const int64_t pos = pos0 + th * tW + twA - r0;
        const float* base = buf + 2 * (th - th0) * wpad + 2 * twA;
        const float* rowPtrs[4] = {base, base + wpad, base + 2 * wpad, base + 3 * wpad};
        if (patch == 4)
          inputTransformRun(rowPtrs, twB - twA, out + pos, outXi);
        else
          gradTransformRun(rowPtrs, twB - twA, out + pos, outXi);
      }
    };
    const int64_t count = r1 - r0, pairXi = blockStride(2, ld);
    if (pairing == Pairing::Channels) {
      for (int64_t c = 0; c < cl; c += 2) {
        transformChannel(c, pairBuf, pairXi);
        if (c + 1 < cl) transformChannel(c + 1, pairBuf + ld, pairXi);
        for (int xi = 0; xi < kXi; ++xi)
          pairChannelRows(pairBuf + xi * pairXi + pos0, c + 1 < cl ? pairBuf + xi * pairXi + ld + pos0 : nullptr,
                          count, dst + xi * xiStride + c / 2 * ld + pos0);
      }
      return;
    }
    if (pairing == Pairing::Tiles) {
      for (int64_t c = 0; c < cl; ++c) {
        transformChannel(c, pairBuf, pairXi);
        for (int xi = 0; xi < kXi; ++xi)
          pairAlongRows(1, count, pairBuf + xi * pairXi + pos0, ld, dst + xi * xiStride + c * pairLd + pos0 / 2,
                        pairLd);
      }
      return;
    }
    for (int64_t c = 0; c < cl; ++c) transformChannel(c, dst + c * ld, xiStride);
  });
}

// Stores 16 floats (lo, hi) at dst, or only the first n of them.
CR_TARGET_AVX2 inline void storePart(float* dst, __m256 lo, __m256 hi, int64_t n) {
  if (n >= 16) {
    _mm256_storeu_ps(dst, lo);
    _mm256_storeu_ps(dst + 8, hi);
    return;
  }
  alignas(32) float tmp[16];
  _mm256_store_ps(tmp, lo);
  _mm256_store_ps(tmp + 8, hi);
  for (int64_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

// Output transform of `count` tiles of one tile row and one output channel: m[xi * xiStride + t]
// -> y0 (output row 2th, from column 2 * first tile) and y1 (row 2th + 1, or null past the
// bottom); only the first `cols` output columns from there are written (the run's own tiles).
CR_TARGET_AVX2 void outputTransformRun(const float* m, int64_t xiStride, int64_t count, float bias, float* y0, float* y1,
                                int64_t cols) {
  const __m256 b = _mm256_set1_ps(bias);
  for (int64_t t = 0; t < count; t += 8) {
    __m256 s[2][4];
    for (int k = 0; k < 4; ++k) {
      const __m256 m0 = _mm256_loadu_ps(m + (0 + k) * xiStride + t);
      const __m256 m1 = _mm256_loadu_ps(m + (4 + k) * xiStride + t);
      const __m256 m2 = _mm256_loadu_ps(m + (8 + k) * xiStride + t);
      const __m256 m3 = _mm256_loadu_ps(m + (12 + k) * xiStride + t);
      s[0][k] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
      s[1][k] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    const int64_t n = std::min<int64_t>(16, cols - 2 * t);
    for (int i = 0; i < 2; ++i) {
      float* dst = i == 0 ? y0 : y1;
      if (!dst) break;
      const __m256 a = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]), b);
      const __m256 c = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
      const __m256 lo = _mm256_unpacklo_ps(a, c), hi = _mm256_unpackhi_ps(a, c);
      storePart(dst + 2 * t, _mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31), n);
    }
  }
}

// c (rows, 24) = [c +] a (kc, 4 packed) * b (kc, 24) with b's row stride ldb; rows <= 4.
CR_TARGET_AVX2 void kernel4x24(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t rows,
                        bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c32 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, a += 4, b += ldb) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16);
    __m256 x = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    c02 = _mm256_fmadd_ps(x, b2, c02);
    x = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    c12 = _mm256_fmadd_ps(x, b2, c12);
    x = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    c22 = _mm256_fmadd_ps(x, b2, c22);
    x = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    c32 = _mm256_fmadd_ps(x, b2, c32);
  }
  const __m256 acc[4][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int h = 0; h < 3; ++h) {
      __m256 v = acc[i][h];
      if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(row + 8 * h));
      _mm256_storeu_ps(row + 8 * h, v);
    }
  }
}


// kernel4x24 with 512-bit FMAs: each row of the tile is one zmm (16 tiles) and one ymm (8), so a
// k step takes 8 FMAs instead of 12.
CR_TARGET_AVX512 void kernel4x24Avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                int64_t rows, bool accumulate) {
  __m512 w0 = _mm512_setzero_ps(), w1 = _mm512_setzero_ps(), w2 = _mm512_setzero_ps(), w3 = _mm512_setzero_ps();
  __m256 n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps(), n2 = _mm256_setzero_ps(), n3 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, a += 4, b += ldb) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 16);
    w0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), b0, w0);
    n0 = _mm256_fmadd_ps(_mm256_set1_ps(a[0]), b1, n0);
    w1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), b0, w1);
    n1 = _mm256_fmadd_ps(_mm256_set1_ps(a[1]), b1, n1);
    w2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), b0, w2);
    n2 = _mm256_fmadd_ps(_mm256_set1_ps(a[2]), b1, n2);
    w3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), b0, w3);
    n3 = _mm256_fmadd_ps(_mm256_set1_ps(a[3]), b1, n3);
  }
  const __m512 wide[4] = {w0, w1, w2, w3};
  const __m256 narrow[4] = {n0, n1, n2, n3};
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    __m512 v = wide[i];
    __m256 u = narrow[i];
    if (accumulate) {
      v = _mm512_add_ps(v, _mm512_loadu_ps(row));
      u = _mm256_add_ps(u, _mm256_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, v);
    _mm256_storeu_ps(row + 16, u);
  }
}

// dotKernel (below) with 512-bit vectors: 16 tiles per step, the tail under a mask.
template <int RO, int RC>
CR_TARGET_AVX512 void dotKernelAvx512(int64_t nt, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
                               int64_t lddu) {
  __m512 acc[RO][RC];
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t t = 0; t < nt; t += 16) {
    const __mmask16 mask = nt - t >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (nt - t)) - 1);
    __m512 x[RO], y[RC];
#pragma GCC unroll 4
    for (int i = 0; i < RO; ++i) x[i] = _mm512_maskz_loadu_ps(mask, z + i * ldz + t);
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) y[j] = _mm512_maskz_loadu_ps(mask, v + j * ldv + t);
#pragma GCC unroll 4
    for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < RC; ++j) acc[i][j] = _mm512_fmadd_ps(x[i], y[j], acc[i][j]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) {
      alignas(64) float halves[16];  // through memory: GCC 12's 512-bit extract intrinsics warn
      _mm512_store_ps(halves, acc[i][j]);
      const __m256 e = _mm256_add_ps(_mm256_load_ps(halves), _mm256_load_ps(halves + 8));
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(e), _mm256_extractf128_ps(e, 1));
      const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
      du[i * lddu + j] += _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
    }
}

// acc[i][j] += z[i][t..t+8) * v[j][t..t+8), lanes outside `mask` read as 0 when masked.
template <int RO, int RC, bool MASKED>
CR_TARGET_AVX2 __attribute__((always_inline)) inline void dotStep(__m256 (&acc)[RO][RC], const float* z, int64_t ldz,
                                                           const float* v, int64_t ldv, int64_t t, __m256i mask) {
  __m256 a[RO], b[RC];
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i) a[i] = MASKED ? _mm256_maskload_ps(z + i * ldz + t, mask) : _mm256_loadu_ps(z + i * ldz + t);
#pragma GCC unroll 4
  for (int j = 0; j < RC; ++j) b[j] = MASKED ? _mm256_maskload_ps(v + j * ldv + t, mask) : _mm256_loadu_ps(v + j * ldv + t);
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) acc[i][j] = _mm256_fmadd_ps(a[i], b[j], acc[i][j]);
}

// du (RO, RC) with row stride lddu += z (RO, nt) * v (RC, nt)^T; z's rows ldz apart, v's ldv apart.
template <int RO, int RC>
CR_TARGET_AVX2 void dotKernel(int64_t nt, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
                       int64_t lddu) {
  __m256 acc[RO][RC];
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= nt; t += 8) dotStep<RO, RC, false>(acc, z, ldz, v, ldv, t, _mm256_setzero_si256());
  if (t < nt) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    dotStep<RO, RC, true>(acc, z, ldz, v, ldv, t,
                           _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nt - t)), lane));
  }
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) {
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
      const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
      du[i * lddu + j] += _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
    }
}

template <int RO>
void dotRow(bool avx512, int64_t rc, int64_t nt, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
            int64_t lddu) {
  if (avx512) {
    switch (rc) {
      case 1: dotKernelAvx512<RO, 1>(nt, z, ldz, v, ldv, du, lddu); break;
      case 2: dotKernelAvx512<RO, 2>(nt, z, ldz, v, ldv, du, lddu); break;
      case 3: dotKernelAvx512<RO, 3>(nt, z, ldz, v, ldv, du, lddu); break;
      default: dotKernelAvx512<RO, 4>(nt, z, ldz, v, ldv, du, lddu); break;
    }
    return;
  }
  switch (rc) {
    case 1: dotKernel<RO, 1>(nt, z, ldz, v, ldv, du, lddu); break;
    case 2: dotKernel<RO, 2>(nt, z, ldz, v, ldv, du, lddu); break;
    case 3: dotKernel<RO, 3>(nt, z, ldz, v, ldv, du, lddu); break;
    default: dotKernel<RO, 4>(nt, z, ldz, v, ldv, du, lddu); break;
  }
}

// du (O, C) with row stride lddu += z (O, nt) * v (C, nt)^T, in 3 x 4 blocks.
void dotProducts(int64_t O, int64_t C, int64_t nt, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
                 int64_t lddu) {
  const bool avx512 = cpuIsa() == CpuIsa::Avx512;
  for (int64_t o = 0; o < O; o += 3)
    for (int64_t c = 0; c < C; c += 4) {
      const int64_t ro = std::min<int64_t>(3, O - o), rc = std::min<int64_t>(4, C - c);
      const float* zo = z + o * ldz;
      const float* vc = v + c * ldv;
      float* d = du + o * lddu + c;
      if (ro == 3) dotRow<3>(avx512, rc, nt, zo, ldz, vc, ldv, d, lddu);
      else if (ro == 2) dotRow<2>(avx512, rc, nt, zo, ldz, vc, ldv, d, lddu);
      else dotRow<1>(avx512, rc, nt, zo, ldz, vc, ldv, d, lddu);
    }
}

// U (packed, see the file comment: kXi * ceilDiv(outC, MR) * inC * MR floats, all written) for a
// convolution with `outC` output and `inC` input channels whose 3x3 kernel for (o, c) is w[o][c]
// (forward) or, when flipped, w[c][o] rotated by 180 degrees (w then being (inC, outC, 3, 3): the
// kernel of backward-data). Panel by panel, c inner, the MR output channels of a panel in the 4
// lanes of SSE vectors: each (xi, panel, c) is one 4-float store, in order.
void transformWeights(const float* w, int64_t outC, int64_t inC, bool flipped, float* u) {
  const int64_t blocks = ceilDiv(outC, MR);
  static_assert(MR == 4, "one SSE vector a panel row");
  parallelFor(0, blocks, std::max<int64_t>(1, 1024 / std::max<int64_t>(1, inC)), [&](int64_t b0, int64_t b1) {
    for (int64_t ob = b0; ob < b1; ++ob)
      for (int64_t c = 0; c < inC; ++c) {
        alignas(16) float gl[9][4];  // g[i * 3 + j] of the panel's output channels, 0 past outC
        for (int64_t q = 0; q < MR; ++q) {
          const int64_t o = ob * MR + q;
          for (int e = 0; e < 9; ++e)
            gl[e][q] = o >= outC ? 0.0f : flipped ? w[(c * outC + o) * 9 + 8 - e] : w[(o * inC + c) * 9 + e];
        }
        __m128 g[3][3];
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) g[i][j] = _mm_load_ps(gl[i * 3 + j]);
        const __m128 half = _mm_set1_ps(0.5f);
        __m128 t[4][3];  // G g
        for (int j = 0; j < 3; ++j) {
          t[0][j] = g[0][j];
          t[1][j] = _mm_mul_ps(half, _mm_add_ps(_mm_add_ps(g[0][j], g[1][j]), g[2][j]));
          t[2][j] = _mm_mul_ps(half, _mm_add_ps(_mm_sub_ps(g[0][j], g[1][j]), g[2][j]));
          t[3][j] = g[2][j];
        }
        for (int a = 0; a < 4; ++a) {
          const __m128 v[4] = {t[a][0], _mm_mul_ps(half, _mm_add_ps(_mm_add_ps(t[a][0], t[a][1]), t[a][2])),
                               _mm_mul_ps(half, _mm_add_ps(_mm_sub_ps(t[a][0], t[a][1]), t[a][2])), t[a][2]};
          for (int k = 0; k < 4; ++k)
            _mm_storeu_ps(u + ((static_cast<int64_t>(4 * a + k) * blocks + ob) * inC + c) * MR, v[k]);
        }
      }
  });
}

int64_t transformedWeightFloats(int64_t outC, int64_t inC) { return kXi * ceilDiv(outC, MR) * inC * MR; }

// Chunking of the tiles and blocking of the channels for one convolution.
struct Plan {
  int64_t tH, tW, tiles;  // tile grid per image, tiles in the batch
  int64_t bt, ld;         // tiles per chunk, row stride of V and M
  int64_t chunks;
  int64_t cb;             // input channels per block
  int64_t ob, oSplits;    // output channels per task (a multiple of 4), tasks per chunk
};

Plan makePlan(int64_t N, int64_t Ho, int64_t Wo, int64_t inC, int64_t outC) {
  Plan p;
  p.tH = ceilDiv(Ho, 2);
  p.tW = ceilDiv(Wo, 2);
  p.tiles = N * p.tH * p.tW;
  const int64_t threads = numThreads();
  p.cb = inC <= 160 ? inC : ceilDiv(inC, ceilDiv(inC, 128));
  p.ob = roundUp(std::min<int64_t>(outC, 128), MR);
  // V and M of a chunk near 192 KiB each (16 * channels * tiles floats).
  p.bt = std::clamp<int64_t>(3072 / std::max(p.cb, p.ob) / NR * NR, NR, 10 * NR);
  p.bt = std::min(p.bt, roundUp(p.tiles, NR));
  // Enough tasks to share between the threads.
  const int64_t wanted = 4 * threads;
  if (ceilDiv(p.tiles, p.bt) < wanted) p.bt = std::max<int64_t>(NR, roundUp(ceilDiv(p.tiles, wanted), NR));
  p.chunks = ceilDiv(p.tiles, p.bt);
  while (p.chunks * ceilDiv(outC, p.ob) < 2 * threads && p.ob > 32) p.ob = roundUp(p.ob / 2, MR);
  p.oSplits = ceilDiv(outC, p.ob);
  p.ld = rowStride(p.bt);
  return p;
}

// out (N, outC, Ho, Wo) = Winograd convolution of in (N, inC, H, W) with packed U, + bias, then + z
// (out's shape) and the ReLU when given, on each output stretch right after it is written.
// With Up (pairWeights of U), the products are the bfloat16 ones of winograd_bf16.h (V transformed
// straight into channel pairs) and each output stretch is rounded to bfloat16 last (by the output
// transform itself where no epilogue follows it).
void convolve(const float* in, int64_t N, int64_t inC, int64_t H, int64_t W, const float* U, const float* bias,
              float* out, int64_t outC, int64_t Ho, int64_t Wo, int64_t padH, int64_t padW, const float* z,
              bool relu, const float* Up = nullptr) {
  Plan p = makePlan(N, Ho, Wo, inC, outC);
  if (Up) p.cb = std::min(inC, roundUp(p.cb, 2));  // channel blocks start at a pair
  const int64_t oBlocksAll = ceilDiv(outC, MR);
  const bool avx512 = cpuIsa() == CpuIsa::Avx512;
  const auto kernel = avx512 ? kernel4x24Avx512 : kernel4x24;
  // The AVX-512 output transform where tile rows are short (8x8 and 7x7 outputs: 1.03x .. 1.04x
  // per convolution); with 8 or more tiles a row the AVX2 one measured 1.02x .. 1.04x faster, but
  // not when it rounds to bfloat16 (16@32x32 and 32@16x16 under autocast: 512-bit rounding in
  // registers costs less than two 256-bit ones).
  const bool roundInTransform = Up && !z && !relu;
  const bool planeOutput = avx512 && (p.tW <= 4 || roundInTransform);
  parallelFor(0, p.chunks * p.oSplits, 1, [&](int64_t task0, int64_t task1) {
    const size_t vFloats = static_cast<size_t>(kXi * blockStride(p.cb, p.ld));
    const size_t mFloats = static_cast<size_t>(kXi * blockStride(p.ob, p.ld));
    const size_t pairFloats = Up ? static_cast<size_t>(pairBufferFloats(p.ld)) : 0;
    float* V = scratch(vFloats + mFloats + static_cast<size_t>(rowBufferFloats(p.bt, p.tW)) + pairFloats);
    float* M = V + vFloats;
    float* rowBuf = M + mFloats;
    float* pairBuf = rowBuf + rowBufferFloats(p.bt, p.tW);
    for (int64_t task = task0; task < task1; ++task) {
      const int64_t chunk = task / p.oSplits, split = task % p.oSplits;
      const int64_t t0 = chunk * p.bt, nt = std::min(p.bt, p.tiles - t0);
      const int64_t o0 = split * p.ob, oc = std::min(p.ob, outC - o0);
      const int64_t tileBlocks = ceilDiv(nt, NR), oBlocks = ceilDiv(oc, MR), mXi = blockStride(oc, p.ld);
      for (int64_t c0 = 0; c0 < inC; c0 += p.cb) {
        const int64_t cl = std::min(p.cb, inC - c0);
        if (Up) {
          const int64_t pairs = (cl + 1) / 2, inPairs = (inC + 1) / 2, vXi = blockStride(pairs, p.ld);
          transformChunk(4, in, inC, H, W, padH, padW, p.tH, p.tW, t0, nt, c0, cl, V, p.ld, rowBuf, Pairing::Channels,
                         pairBuf);
          for (int xi = 0; xi < kXi; ++xi)
            for (int64_t ob = 0; ob < oBlocks; ++ob) {
              const float* a = Up + ((xi * oBlocksAll + o0 / MR + ob) * inPairs + c0 / 2) * MR;
              for (int64_t tb = 0; tb < tileBlocks; ++tb)
                kernel4x24Bf16(pairs, a, V + xi * vXi + tb * NR, p.ld, M + xi * mXi + ob * MR * p.ld + tb * NR, p.ld,
                               std::min<int64_t>(MR, oc - ob * MR), c0 > 0);
            }
          continue;
        }
        transformChunk(4, in, inC, H, W, padH, padW, p.tH, p.tW, t0, nt, c0, cl, V, p.ld, rowBuf);
        for (int xi = 0; xi < kXi; ++xi)
          for (int64_t ob = 0; ob < oBlocks; ++ob) {
            const float* a = U + ((xi * oBlocksAll + o0 / MR + ob) * inC + c0) * MR;
            for (int64_t tb = 0; tb < tileBlocks; ++tb)
              kernel(cl, a, V + xi * blockStride(cl, p.ld) + tb * NR, p.ld, M + xi * mXi + ob * MR * p.ld + tb * NR, p.ld,
                         std::min<int64_t>(MR, oc - ob * MR), c0 > 0);
          }
      }
      if (planeOutput) {
        for (int64_t o = 0; o < oc; ++o)
          forEachImagePart(t0, nt, p.tH, p.tW, [&](int64_t n, int64_t r0, int64_t r1, int64_t pos) {
            float* plane = out + (n * outC + o0 + o) * Ho * Wo;  // (Ho, Wo)
            outputTransformPlaneAvx512(M + o * p.ld + pos, mXi, r0, r1, p.tW, bias ? bias[o0 + o] : 0.0f,
                                       plane, Ho, Wo, roundInTransform);
            if (!z && !relu) return;
            for (int64_t th = r0 / p.tW; th * p.tW < r1; ++th) {  // the stretches just written
              const int64_t col0 = 2 * (std::max(r0, th * p.tW) - th * p.tW);
              const int64_t cols = std::min(Wo, 2 * (std::min(r1, (th + 1) * p.tW) - th * p.tW)) - col0;
              for (int64_t row = 2 * th; row < std::min(Ho, 2 * th + 2); ++row) {
                const int64_t offset = row * Wo + col0;
                if (z || relu)
                  epilogueRow(plane + offset, z ? z + (n * outC + o0 + o) * Ho * Wo + offset : nullptr, nullptr,
                              relu, cols);
                if (Up) roundStretch(plane + offset, cols);
              }
            }
          });
        continue;
      }
      for (int64_t o = 0; o < oc; ++o)  // channel by channel: y is written in long sequential stretches
        forEachRun(t0, nt, p.tH, p.tW, [&](int64_t n, int64_t th, int64_t twA, int64_t twB, int64_t pos) {
          const int64_t offset = ((n * outC + o0 + o) * Ho + 2 * th) * Wo + 2 * twA;
          float* y0 = out + offset;
          const bool secondRow = 2 * th + 1 < Ho;
          const int64_t cols = std::min(Wo - 2 * twA, 2 * (twB - twA));
          outputTransformRun(M + o * p.ld + pos, mXi, twB - twA, bias ? bias[o0 + o] : 0.0f, y0,
                             secondRow ? y0 + Wo : nullptr, cols);
          if (z || relu) {
            epilogueRow(y0, z ? z + offset : nullptr, nullptr, relu, cols);
            if (secondRow) epilogueRow(y0 + Wo, z ? z + offset + Wo : nullptr, nullptr, relu, cols);
          }
          if (Up) {  // after the epilogue (roundInTransform takes the plane output transform)
            roundStretch(y0, cols);
            if (secondRow) roundStretch(y0 + Wo, cols);
          }
        });
    }
  });
}

}  // namespace

Mode mode() {
  if (cpuIsa() == CpuIsa::Portable) return Mode::Off;
  const char* v = std::getenv("CUDNN_RESNET_CONV");
  if (v && std::strcmp(v, "im2col") == 0) return Mode::Off;
  if (v && std::strcmp(v, "winograd") == 0) return Mode::Force;
  return Mode::Auto;
}

std::vector<float> forwardWeights(const float* w, int64_t O, int64_t C) {
  std::vector<float> U(static_cast<size_t>(transformedWeightFloats(O, C)));
  transformWeights(w, O, C, false, U.data());
  return U;
}

void forward(const float* x, const float* w, const float* bias, float* y, int64_t N, int64_t C, int64_t H, int64_t W,
             int64_t O, int64_t padH, int64_t padW, const float* z, bool relu, const float* transformed) {
  const std::vector<float> U = transformed ? std::vector<float>() : forwardWeights(w, O, C);
  convolve(x, N, C, H, W, transformed ? transformed : U.data(), bias, y, O, H + 2 * padH - 2, W + 2 * padW - 2, padH,
           padW, z, relu);
}

void backwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                  int64_t padH, int64_t padW) {
  // The flipped weights change at every training step: made at every call, into memory kept by the
  // calling thread (no page faults on a fresh buffer each time).
  thread_local std::vector<float> U;
  U.resize(static_cast<size_t>(transformedWeightFloats(C, O)));
  transformWeights(w, C, O, true, U.data());
  convolve(dy, N, O, H + 2 * padH - 2, W + 2 * padW - 2, U.data(), nullptr, dx, C, H, W, 2 - padH, 2 - padW, nullptr,
           false);
}

std::vector<float> forwardWeightsBf16(const float* w, int64_t O, int64_t C) {
  return pairWeights(forwardWeights(w, O, C), ceilDiv(O, MR), C);
}

void forwardBf16(const float* x, const float* bias, float* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                 int64_t padH, int64_t padW, bool relu, const float* transformed) {
  convolve(x, N, C, H, W, nullptr, bias, y, O, H + 2 * padH - 2, W + 2 * padW - 2, padH, padW, nullptr, relu,
           transformed);
}

void backwardDataBf16(const float* dy, const float* transformed, float* dx, int64_t N, int64_t C, int64_t H, int64_t W,
                      int64_t O, int64_t padH, int64_t padW) {
  convolve(dy, N, O, H + 2 * padH - 2, W + 2 * padW - 2, nullptr, nullptr, dx, C, H, W, 2 - padH, 2 - padW, nullptr,
           false, transformed);
}

std::vector<float> backwardDataWeightsBf16(const float* w, int64_t O, int64_t C) {
  std::vector<float> U(static_cast<size_t>(transformedWeightFloats(C, O)));
  transformWeights(w, C, O, true, U.data());
  return pairWeights(U, ceilDiv(C, MR), O);
}

void backwardFilter(const float* dy, const float* x, float* dw, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                    int64_t padH, int64_t padW, bool bf16Products) {
  const int64_t Ho = H + 2 * padH - 2, Wo = W + 2 * padW - 2;
  const int64_t tH = ceilDiv(Ho, 2), tW = ceilDiv(Wo, 2), tiles = N * tH * tW;
  const int64_t cb = C <= 160 ? C : ceilDiv(C, ceilDiv(C, 128));
  const int64_t threads = numThreads();
  // Chunks 4x those of the forward pass (up to 480 tiles), while there are 4 a thread: each dot
  // product's horizontal sum is paid once a chunk, and at 48-tile chunks (64 channels) those sums
  // cost more than the FMAs. Measured one thread, filter gradient, 4x over 1x chunks:
  // 1.07x (128, 16@32x32), 1.24x (128, 32@16x16), 1.47x (128, 64@8x8), 1.59x (8, 64@56x56).
  const int64_t bt0 = std::clamp<int64_t>(3072 / std::max(cb, O) / NR * NR, NR, 10 * NR);
  const int64_t bt = std::max(bt0, std::min(std::clamp<int64_t>(12288 / std::max(cb, O) / NR * NR, NR, 20 * NR),
                                            roundUp(ceilDiv(tiles, 4 * threads), NR)));
  const int64_t ld = rowStride(bt);
  const int64_t uSize = kXi * O * C;  // dU[xi][o][c]
  const int64_t chunks = ceilDiv(tiles, bt);
  const int64_t parts = std::max<int64_t>(1, std::min(chunks, threads * (uSize <= (int64_t{1} << 18) ? 4 : 1)));
  std::vector<float> dU(static_cast<size_t>(parts * uSize), 0.0f);
  parallelFor(0, parts, 1, [&](int64_t part0, int64_t part1) {
    const size_t vFloats = static_cast<size_t>(kXi * blockStride(cb, ld));
    const size_t zFloats = static_cast<size_t>(kXi * blockStride(O, ld));
    float* V = scratch(vFloats + zFloats + static_cast<size_t>(rowBufferFloats(bt, tW) + pairBufferFloats(ld)));
    float* Z = V + vFloats;
    float* rowBuf = Z + zFloats;
    float* pairBuf = rowBuf + rowBufferFloats(bt, tW);
    // The bfloat16 dot products' operands: Z and V as tile pairs (winograd_bf16.h), transformed
    // straight into them where each image has an even number of tiles (no pair spans two images).
    const int64_t ldp = roundUp(ceilDiv(ld, 2), 16);
    const bool pairInTransform = bf16Products && tH * tW % 2 == 0;
    const int64_t zpXi = blockStride(O, ldp);  // Vp's blocks: blockStride(cl, ldp)
    float* Zp = bf16Products ? pairScratch(static_cast<size_t>(kXi * (zpXi + blockStride(cb, ldp)))) : nullptr;
    float* Vp = bf16Products ? Zp + kXi * zpXi : nullptr;
    for (int64_t part = part0; part < part1; ++part) {
      float* acc = dU.data() + part * uSize;
      for (int64_t chunk = part * chunks / parts; chunk < (part + 1) * chunks / parts; ++chunk) {
        const int64_t t0 = chunk * bt, nt = std::min(bt, tiles - t0);
        if (pairInTransform) {
          transformChunk(2, dy, O, Ho, Wo, 0, 0, tH, tW, t0, nt, 0, O, Zp, ld, rowBuf, Pairing::Tiles, pairBuf, ldp);
        } else {
          transformChunk(2, dy, O, Ho, Wo, 0, 0, tH, tW, t0, nt, 0, O, Z, ld, rowBuf);
          if (bf16Products)
            for (int xi = 0; xi < kXi; ++xi)
              pairAlongRows(O, nt, Z + xi * blockStride(O, ld), ld, Zp + xi * zpXi, ldp);
        }
        for (int64_t c0 = 0; c0 < C; c0 += cb) {
          const int64_t cl = std::min(cb, C - c0);
          if (pairInTransform)
            transformChunk(4, x, C, H, W, padH, padW, tH, tW, t0, nt, c0, cl, Vp, ld, rowBuf, Pairing::Tiles, pairBuf,
                           ldp);
          else
            transformChunk(4, x, C, H, W, padH, padW, tH, tW, t0, nt, c0, cl, V, ld, rowBuf);
          if (bf16Products) {
            if (!pairInTransform)
              for (int xi = 0; xi < kXi; ++xi)
                pairAlongRows(cl, nt, V + xi * blockStride(cl, ld), ld, Vp + xi * blockStride(cl, ldp), ldp);
            for (int xi = 0; xi < kXi; ++xi)
              dotProductsBf16(O, cl, ceilDiv(nt, 2), Zp + xi * zpXi, ldp, Vp + xi * blockStride(cl, ldp), ldp,
                              acc + xi * O * C + c0, C);
            continue;
          }
          for (int xi = 0; xi < kXi; ++xi)
            dotProducts(O, cl, nt, Z + xi * blockStride(O, ld), ld, V + xi * blockStride(cl, ld), ld,
                        acc + xi * O * C + c0, C);
        }
      }
    }
  });
  // dw[o][c] = G^T (sum of the parts of dU) G.
  parallelFor(0, O, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, C)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < C; ++c) {
        float u[4][4];
        for (int xi = 0; xi < kXi; ++xi) {
          float s = 0.0f;
          for (int64_t part = 0; part < parts; ++part) s += dU[static_cast<size_t>(part * uSize + (xi * O + o) * C + c)];
          u[xi / 4][xi % 4] = s;
        }
        float t[3][4];  // G^T u
        for (int k = 0; k < 4; ++k) {
          t[0][k] = u[0][k] + 0.5f * (u[1][k] + u[2][k]);
          t[1][k] = 0.5f * (u[1][k] - u[2][k]);
          t[2][k] = 0.5f * (u[1][k] + u[2][k]) + u[3][k];
        }
        float* d = dw + (o * C + c) * 9;
        for (int i = 0; i < 3; ++i) {
          d[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
          d[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
          d[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
        }
      }
  });
}

#else  // not x86-64: the path is never enabled

Mode mode() { return Mode::Off; }
std::vector<float> forwardWeights(const float*, int64_t, int64_t) { return {}; }
void forward(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
             int64_t, const float*, bool, const float*) {}
void backwardData(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {}
std::vector<float> forwardWeightsBf16(const float*, int64_t, int64_t) { return {}; }
void forwardBf16(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                 bool, const float*) {}
void backwardDataBf16(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                      int64_t) {}
std::vector<float> backwardDataWeightsBf16(const float*, int64_t, int64_t) { return {}; }
void backwardFilter(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                    int64_t, bool) {}

#endif

}  // namespace winograd
}  // namespace cr
