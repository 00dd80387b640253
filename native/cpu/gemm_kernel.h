// Internals of the built-in SGEMM: the instruction-set choice and the blocked driver that
// every micro-kernel shares. The driver follows the GotoBLAS/BLIS loop order:
//   jc over NC columns of C
//     pc over KC of K: pack B block (KC, NC) into NR-wide panels
//       ic over MC rows of C: pack A block (MC, KC) into MR-tall panels
//         jr over NR columns, ir over MR rows: micro-kernel on a C tile (MR, NR)
// To use every core, C is split into one tile per thread; each tile runs the loop above
// serially with its own packing buffers, so threads never wait on each other.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

#include "../core/parallel.h"

namespace cr {

enum class GemmIsa { Portable, Avx2Fma };
// Whether this build and this CPU can run the instruction set.
bool gemmIsaSupported(GemmIsa isa);
// The built-in kernel with a given (supported) instruction set; same contract as sgemmBuiltin.
void sgemmBuiltinWithIsa(GemmIsa isa, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                         int64_t ldc);

namespace gemm {

// C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, row-major; M, N, K > 0.
struct Problem {
  bool transA, transB;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

// Below this many multiply-adds per thread, waking another thread costs more than it saves.
constexpr double kMinMultiplyAddsPerThread = 1 << 20;
constexpr size_t kBufferAlignment = 64;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// A 64-byte aligned float buffer that only grows; one per thread, reused across calls.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  float* reserve(size_t floats) {
    if (floats > capacity_) {
      release();
      data_ = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t(kBufferAlignment)));
      capacity_ = floats;
    }
    return data_;
  }

 private:
  void release() {
    if (data_) ::operator delete(data_, std::align_val_t(kBufferAlignment));
    data_ = nullptr;
    capacity_ = 0;
  }
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Block sizes for one tile: MC, KC, NC evened out so the last block is not a sliver.
struct Blocking {
  int64_t mc, kc, nc;
};

template <class Kernel>
Blocking blockingFor(int64_t m, int64_t n, int64_t K) {
  static_assert(Kernel::MC % Kernel::MR == 0 && Kernel::NC % Kernel::NR == 0, "blocks must hold whole panels");
  Blocking b;
  b.mc = std::min(Kernel::MC, roundUp(ceilDiv(m, ceilDiv(m, Kernel::MC)), Kernel::MR));
  b.kc = ceilDiv(K, ceilDiv(K, Kernel::KC));
  b.nc = std::min(Kernel::NC, roundUp(ceilDiv(n, ceilDiv(n, Kernel::NC)), Kernel::NR));
  return b;
}

// Packs op(A) rows [i0, i0 + mc), columns [k0, k0 + kc) into MR-tall panels:
// panel p is (kc, MR) row-major at out + p * MR * kc; rows past mc are zero.
template <int MR>
void packA(const Problem& g, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out) {
  if (g.transA) {  // A: (K, M); read it a row at a time, spreading each row over the panels
    for (int64_t k = 0; k < kc; ++k) {
      const float* row = g.A + (k0 + k) * g.lda + i0;
      for (int64_t ir = 0; ir < mc; ir += MR) {
        const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
        float* dst = out + ir * kc + k * MR;
        if (rows == MR) {
          for (int r = 0; r < MR; ++r) dst[r] = row[ir + r];
        } else {
          for (int r = 0; r < MR; ++r) dst[r] = r < rows ? row[ir + r] : 0.0f;
        }
      }
    }
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += MR) {  // A: (M, K); one element from each of the panel's rows per k
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    const float* src = g.A + (i0 + ir) * g.lda + k0;
    float* panel = out + ir * kc;
    if (rows == MR) {
      for (int64_t k = 0; k < kc; ++k, panel += MR)
        for (int r = 0; r < MR; ++r) panel[r] = src[r * g.lda + k];
    } else {
      for (int64_t k = 0; k < kc; ++k, panel += MR)
        for (int r = 0; r < MR; ++r) panel[r] = r < rows ? src[r * g.lda + k] : 0.0f;
    }
  }
}

// Packs op(B) rows [k0, k0 + kc), columns [j0, j0 + nc) into NR-wide panels:
// panel p is (kc, NR) row-major at out + p * NR * kc; columns past nc are zero.
template <int NR>
void packB(const Problem& g, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  if (!g.transB) {  // B: (K, N); read it a row at a time, spreading each row over the panels
    for (int64_t k = 0; k < kc; ++k) {
      const float* row = g.B + (k0 + k) * g.ldb + j0;
      for (int64_t jr = 0; jr < nc; jr += NR) {
        const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
        float* dst = out + jr * kc + k * NR;
        if (cols == NR) {
          for (int c = 0; c < NR; ++c) dst[c] = row[jr + c];
        } else {
          for (int c = 0; c < NR; ++c) dst[c] = c < cols ? row[jr + c] : 0.0f;
        }
      }
    }
    return;
  }
  for (int64_t jr = 0; jr < nc; jr += NR) {  // B: (N, K); one element from each of the panel's columns per k
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    const float* src = g.B + (j0 + jr) * g.ldb + k0;
    float* panel = out + jr * kc;
    if (cols == NR) {
      for (int64_t k = 0; k < kc; ++k, panel += NR)
        for (int c = 0; c < NR; ++c) panel[c] = src[c * g.ldb + k];
    } else {
      for (int64_t k = 0; k < kc; ++k, panel += NR)
        for (int c = 0; c < NR; ++c) panel[c] = c < cols ? src[c * g.ldb + k] : 0.0f;
    }
  }
}

// Computes the C tile rows [i0, i0 + m), columns [j0, j0 + n) over all of K.
// packedA holds bl.mc * bl.kc floats, packedB bl.kc * bl.nc.
template <class Kernel>
void computeTile(const Problem& g, int64_t i0, int64_t m, int64_t j0, int64_t n, const Blocking& bl,
                 float* packedA, float* packedB) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  for (int64_t jc = 0; jc < n; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, n - jc);
    for (int64_t pc = 0; pc < g.K; pc += bl.kc) {
      const int64_t kc = std::min(bl.kc, g.K - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate onto C
      packB<NR>(g, pc, kc, j0 + jc, nc, packedB);
      for (int64_t ic = 0; ic < m; ic += bl.mc) {
        const int64_t mc = std::min(bl.mc, m - ic);
        packA<MR>(g, i0 + ic, mc, pc, kc, packedA);
        float* cBlock = g.C + (i0 + ic) * g.ldc + j0 + jc;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            Kernel::run(kc, packedA + ir * kc, packedB + jr * kc, cBlock + ir * g.ldc + jr, g.ldc, mr, nr,
                        g.alpha, beta);
          }
        }
      }
    }
  }
}

// How C is split among threads: rows x cols tiles, one per thread.
struct TileGrid {
  int rows, cols;
};

// Each tile packs all of B's columns it covers once per K block, and its rows of A once per
// (NC, KC) block; the grid minimises that repeated packing among the splits of the thread count.
template <class Kernel>
TileGrid chooseTileGrid(int64_t M, int64_t N, int64_t K) {
  const double multiplyAdds = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  int threads = inParallelRegion() ? 1 : numThreads();
  threads = static_cast<int>(std::min<double>(threads, std::max(1.0, multiplyAdds / kMinMultiplyAddsPerThread)));
  const int64_t rowPanels = ceilDiv(M, Kernel::MR), colPanels = ceilDiv(N, Kernel::NR);
  for (; threads > 1; --threads) {
    TileGrid best{0, 0};
    double bestCost = std::numeric_limits<double>::infinity();
    for (int rows = threads; rows >= 1; --rows) {
      const int cols = threads / rows;
      if (rows * cols != threads || rows > rowPanels || cols > colPanels) continue;
      const double aPackings = static_cast<double>(cols) * ceilDiv(ceilDiv(N, cols), Kernel::NC);
      const double cost = aPackings * static_cast<double>(M) + static_cast<double>(rows) * static_cast<double>(N);
      if (cost < bestCost) {
        bestCost = cost;
        best = {rows, cols};
      }
    }
    if (best.rows > 0) return best;
  }
  return {1, 1};
}

// Start of tile t of `tiles` over `panels` panels of `panelSize`, clamped to `size`.
inline int64_t tileStart(int64_t t, int64_t tiles, int64_t panels, int64_t panelSize, int64_t size) {
  return std::min(size, t * panels / tiles * panelSize);
}

template <class Kernel>
void sgemmBlocked(const Problem& g) {
  const TileGrid grid = chooseTileGrid<Kernel>(g.M, g.N, g.K);
  const int64_t rowPanels = ceilDiv(g.M, Kernel::MR), colPanels = ceilDiv(g.N, Kernel::NR);
  const int64_t tiles = int64_t{grid.rows} * grid.cols;
  // Per-tile buffers hold any tile's blocks (mc <= min(MC, tile rows), nc likewise; kc depends
  // on K only); they are carved from this thread's buffer, which the workers write into.
  const int64_t kc = blockingFor<Kernel>(Kernel::MR, Kernel::NR, g.K).kc;
  const int64_t maxMc = std::min(Kernel::MC, ceilDiv(rowPanels, grid.rows) * Kernel::MR);
  const int64_t maxNc = std::min(Kernel::NC, ceilDiv(colPanels, grid.cols) * Kernel::NR);
  const int64_t perAlign = kBufferAlignment / sizeof(float);
  const size_t aFloats = static_cast<size_t>(roundUp(maxMc * kc, perAlign));
  const size_t bFloats = static_cast<size_t>(roundUp(kc * maxNc, perAlign));
  thread_local PackBuffer buffer;
  float* packing = buffer.reserve(static_cast<size_t>(tiles) * (aFloats + bFloats));
  auto runTiles = [&](int64_t tileBegin, int64_t tileEnd) {
    for (int64_t t = tileBegin; t < tileEnd; ++t) {
      const int64_t tr = t / grid.cols, tc = t % grid.cols;
      const int64_t i0 = tileStart(tr, grid.rows, rowPanels, Kernel::MR, g.M);
      const int64_t i1 = tileStart(tr + 1, grid.rows, rowPanels, Kernel::MR, g.M);
      const int64_t j0 = tileStart(tc, grid.cols, colPanels, Kernel::NR, g.N);
      const int64_t j1 = tileStart(tc + 1, grid.cols, colPanels, Kernel::NR, g.N);
      if (i1 <= i0 || j1 <= j0) continue;
      float* packedA = packing + static_cast<size_t>(t) * (aFloats + bFloats);
      computeTile<Kernel>(g, i0, i1 - i0, j0, j1 - j0, blockingFor<Kernel>(i1 - i0, j1 - j0, g.K), packedA,
                          packedA + aFloats);
    }
  };
  if (tiles == 1) {
    runTiles(0, 1);
  } else {
    parallelFor(0, tiles, 1, runTiles);
  }
}

}  // namespace gemm
}  // namespace cr
