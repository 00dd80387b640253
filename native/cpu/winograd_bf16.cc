// The bfloat16 product stage of Winograd F(2x2, 3x3): see winograd_bf16.h.
#include "winograd_bf16.h"

#include <algorithm>

#include "../core/cpu_targets.h"
#include "../core/float_bits.h"

#include "bf16_vec.h"

namespace cr {
namespace winograd {

namespace {

// The bits of a pair: bfloat16(lo) in the low half, bfloat16(hi) in the high half.
float pairOf(float lo, float hi) {
  const uint32_t bits = static_cast<uint32_t>(floatToBFloat16(lo)) | (static_cast<uint32_t>(floatToBFloat16(hi)) << 16);
  return floatFromBits(bits);
}

}  // namespace

std::vector<float> pairWeights(const std::vector<float>& U, int64_t blocks, int64_t inC) {
  const int64_t pairs = (inC + 1) / 2;
  std::vector<float> Up(static_cast<size_t>(16 * blocks * pairs * 4));
  for (int64_t xb = 0; xb < 16 * blocks; ++xb)  // (xi, o / 4)
    for (int64_t p = 0; p < pairs; ++p)
      for (int r = 0; r < 4; ++r) {
        const float lo = U[static_cast<size_t>((xb * inC + 2 * p) * 4 + r)];
        const float hi = 2 * p + 1 < inC ? U[static_cast<size_t>((xb * inC + 2 * p + 1) * 4 + r)] : 0.0f;
        Up[static_cast<size_t>((xb * pairs + p) * 4 + r)] = pairOf(lo, hi);
      }
  return Up;
}

float* pairScratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

#if defined(__x86_64__)
using bf16::firstLanes;

CR_TARGET_AVX512_BF16 void pairChannelRows(const float* lo, const float* hi, int64_t n, float* dst) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = firstLanes(n - j);
    const __m512 h = hi ? bf16::load16(m, hi + j) : _mm512_setzero_ps();
    _mm512_mask_storeu_epi32(dst + j, m, bf16::pairLanes(bf16::load16(m, lo + j), h));
  }
}

CR_TARGET_AVX512_BF16 void pairAlongRows(int64_t rows, int64_t n, const float* src, int64_t lds, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;  // (n)
    float* d = dst + r * ldd;        // (ceil(n / 2))
    for (int64_t t = 0; t < n; t += 32) bf16::pairNeighbours(s + t, std::min<int64_t>(32, n - t), d + t / 2);
  }
}

namespace {

// du (RO, RC) with row stride lddu += z (RO, pairs) * v (RC, pairs)^T: 32 tiles per vdpbf16ps.
template <int RO, int RC>
CR_TARGET_AVX512_BF16 void dotKernelBf16(int64_t pairs, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
                           int64_t lddu) {
  __m512 acc[RO][RC];
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; p += 16) {
    const __mmask16 mask = firstLanes(pairs - p);
    __m512bh x[RO], y[RC];
#pragma GCC unroll 4
    for (int i = 0; i < RO; ++i) x[i] = (__m512bh)bf16::load16(mask, z + i * ldz + p);
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) y[j] = (__m512bh)bf16::load16(mask, v + j * ldv + p);
#pragma GCC unroll 4
    for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < RC; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], x[i], y[j]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < RO; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RC; ++j) {
      alignas(64) float lanes[16];  // through memory: GCC 12's 512-bit reduce and extract intrinsics warn
      _mm512_store_ps(lanes, acc[i][j]);
      const __m256 e = _mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8));
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(e), _mm256_extractf128_ps(e, 1));
      const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
      du[i * lddu + j] += _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
    }
}

template <int RO>
void dotRowBf16(int64_t rc, int64_t pairs, const float* z, int64_t ldz, const float* v, int64_t ldv, float* du,
                int64_t lddu) {
  switch (rc) {
    case 1: dotKernelBf16<RO, 1>(pairs, z, ldz, v, ldv, du, lddu); break;
    case 2: dotKernelBf16<RO, 2>(pairs, z, ldz, v, ldv, du, lddu); break;
    case 3: dotKernelBf16<RO, 3>(pairs, z, ldz, v, ldv, du, lddu); break;
    default: dotKernelBf16<RO, 4>(pairs, z, ldz, v, ldv, du, lddu); break;
  }
}

}  // namespace

void dotProductsBf16(int64_t O, int64_t C, int64_t pairs, const float* z, int64_t ldz, const float* v, int64_t ldv,
                     float* du, int64_t lddu) {
  for (int64_t o = 0; o < O; o += 3)
    for (int64_t c = 0; c < C; c += 4) {
      const int64_t ro = std::min<int64_t>(3, O - o), rc = std::min<int64_t>(4, C - c);
      const float* zo = z + o * ldz;
      const float* vc = v + c * ldv;
      float* d = du + o * lddu + c;
      if (ro == 3) dotRowBf16<3>(rc, pairs, zo, ldz, vc, ldv, d, lddu);
      else if (ro == 2) dotRowBf16<2>(rc, pairs, zo, ldz, vc, ldv, d, lddu);
      else dotRowBf16<1>(rc, pairs, zo, ldz, vc, ldv, d, lddu);
    }
}

// 8 floats at a time, with plain loads but for the tail: the output transform has just written y
// with 8-float stores, which forward their data to loads of the same 8 floats (not to a 16-float
// load spanning two of them, nor to a masked load).
CR_TARGET_AVX512_BF16 void roundStretch(float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), bf16::roundedBits(v));
  }
  if (i < n) {
    const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi32(y + i, m, bf16::roundedBits(_mm256_maskz_loadu_epi32(m, y + i)));
  }
}

// kernel4x24Avx512 (winograd.cc) with vdpbf16ps: a pair of channels per step, each row of the
// tile one zmm (16 tiles) and one ymm (8).
CR_TARGET_AVX512_BF16 void kernel4x24Bf16(int64_t pairs, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                            int64_t rows, bool accumulate) {
  __m512 w0 = _mm512_setzero_ps(), w1 = _mm512_setzero_ps(), w2 = _mm512_setzero_ps(), w3 = _mm512_setzero_ps();
  __m256 n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps(), n2 = _mm256_setzero_ps(), n3 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < pairs; ++k, a += 4, b += ldb) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_ps(b);
    const __m256bh b1 = (__m256bh)_mm256_loadu_ps(b + 16);
    w0 = _mm512_dpbf16_ps(w0, (__m512bh)_mm512_set1_ps(a[0]), b0);
    n0 = _mm256_dpbf16_ps(n0, (__m256bh)_mm256_set1_ps(a[0]), b1);
    w1 = _mm512_dpbf16_ps(w1, (__m512bh)_mm512_set1_ps(a[1]), b0);
    n1 = _mm256_dpbf16_ps(n1, (__m256bh)_mm256_set1_ps(a[1]), b1);
    w2 = _mm512_dpbf16_ps(w2, (__m512bh)_mm512_set1_ps(a[2]), b0);
    n2 = _mm256_dpbf16_ps(n2, (__m256bh)_mm256_set1_ps(a[2]), b1);
    w3 = _mm512_dpbf16_ps(w3, (__m512bh)_mm512_set1_ps(a[3]), b0);
    n3 = _mm256_dpbf16_ps(n3, (__m256bh)_mm256_set1_ps(a[3]), b1);
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

#else

void pairChannelRows(const float*, const float*, int64_t, float*) {}
void roundStretch(float*, int64_t) {}
void pairAlongRows(int64_t, int64_t, const float*, int64_t, float*, int64_t) {}
void dotProductsBf16(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t) {}
void kernel4x24Bf16(int64_t, const float*, const float*, int64_t, float*, int64_t, int64_t, bool) {}

#endif

}  // namespace winograd
}  // namespace cr
