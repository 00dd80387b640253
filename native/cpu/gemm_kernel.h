// Internals of the built-in SGEMM: the instruction-set choice and the blocked driver that
// every micro-kernel shares. The driver follows the GotoBLAS/BLIS loop order:
//   jc over NC columns of C
//     pc over KC of K: pack B block (KC, NC) into NR-wide panels
//       ic over MC rows of C: pack A block (MC, KC) into MR-tall panels
//         jr over NR columns, ir over MR rows: micro-kernel on a C tile (MR, NR)
// One thread runs these loops as they are. Several threads share each packed B block and take
// (MC-row block, column chunk) tasks of C from a common queue (computeShared).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/parallel.h"
#include "epilogue.h"

namespace cr {

// The built-in kernel with a given instruction set (cpuIsaSupported must allow it); same contract
// as sgemmBuiltin, which uses cpuIsa().
void sgemmBuiltinWithIsa(CpuIsa isa, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                         int64_t ldc, const Epilogue* epilogue = nullptr);

namespace gemm {

// C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, row-major; M, N, K > 0; then the
// epilogue on C when there is one.
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
  const Epilogue* epilogue;
  // op(A) packed ahead (packGemmA) or nullptr: K block pc of row block ic is at
  // packedA + pc * packedRows + ic * kc, so the drivers skip packing A.
  const float* packedA = nullptr;
  int64_t packedRows = 0;
  // op(B) packed ahead (packGemmB) or nullptr: K block pc of the NR panel at column j is at
  // packedB + pc * packedCols + j * kc. Only the serial driver (computeSerial) reads it.
  const float* packedB = nullptr;
  int64_t packedCols = 0;
};

constexpr size_t kBufferAlignment = 64;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }
// A float count rounded up to whole cache lines.
inline size_t cacheLineFloats(int64_t floats) {
  return static_cast<size_t>(roundUp(floats, kBufferAlignment / sizeof(float)));
}

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

// Block sizes: MC, KC, NC evened out so that the last block is not a sliver.
struct Blocking {
  int64_t mc, kc, nc;
};

// The block size, at most maxBlock and a multiple of `multiple` (maxBlock is one), that splits
// `size` into the fewest blocks of nearly equal size.
inline int64_t evenBlock(int64_t size, int64_t maxBlock, int64_t multiple) {
  return std::min(maxBlock, roundUp(ceilDiv(size, ceilDiv(size, maxBlock)), multiple));
}

template <class Kernel>
Blocking blockingFor(int64_t m, int64_t n, int64_t K) {
  static_assert(Kernel::MC % Kernel::MR == 0 && Kernel::NC % Kernel::NR == 0, "blocks must hold whole panels");
  return {evenBlock(m, Kernel::MC, Kernel::MR), evenBlock(K, Kernel::KC, 1), evenBlock(n, Kernel::NC, Kernel::NR)};
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
  if (!g.transB) {  // B: (K, N); a few rows at a time, each panel's part of them written in one stretch
    // The panels lie NR * kc floats apart (8 KiB and more, a power of two for K = 64, 256, 512: the
    // same L1 sets); row by row, each row's writes to every panel evicted the previous row's lines.
    // At 8 rows, 1x1 64 -> 64 at 56x56 went 0.155 -> 0.139 ms on one thread, 256 -> 64 0.648 -> 0.621.
    constexpr int64_t kRowsAtOnce = 8;
    for (int64_t kb = 0; kb < kc; kb += kRowsAtOnce) {
      const int64_t kEnd = std::min(kc, kb + kRowsAtOnce);
      for (int64_t jr = 0; jr < nc; jr += NR) {
        const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
        for (int64_t k = kb; k < kEnd; ++k) {
          const float* row = g.B + (k0 + k) * g.ldb + j0;
          float* dst = out + jr * kc + k * NR;
          if (cols == NR) {
            for (int c = 0; c < NR; ++c) dst[c] = row[jr + c];
          } else {
            for (int c = 0; c < NR; ++c) dst[c] = c < cols ? row[jr + c] : 0.0f;
          }
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

// Packs all of op(A) (M, K) for the driver's blocking: K block pc (kc = blockingFor's kc, the last
// one shorter) holds every row's MR-tall panels at out + pc * roundUp(M, MR); out holds
// roundUp(M, MR) * K floats.
template <class Kernel>
void packWholeA(const Problem& g, float* out) {
  const int64_t kcMax = blockingFor<Kernel>(g.M, 1, g.K).kc, rows = roundUp(g.M, Kernel::MR);
  const int64_t panels = rows / Kernel::MR;
  // Tasks of (K block, MR panel range), about 64K floats each.
  const int64_t perTask = std::max<int64_t>(1, (int64_t{1} << 16) / (Kernel::MR * kcMax));
  const int64_t tasksPerBlock = ceilDiv(panels, perTask);
  parallelFor(0, ceilDiv(g.K, kcMax) * tasksPerBlock, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t pc = t / tasksPerBlock * kcMax, kc = std::min(kcMax, g.K - pc);
      const int64_t i0 = t % tasksPerBlock * perTask * Kernel::MR, mc = std::min(perTask * Kernel::MR, g.M - i0);
      packA<Kernel::MR>(g, i0, mc, pc, kc, out + pc * rows + i0 * kc);
    }
  });
}

// Packs all of op(B) (K, N) for the serial driver's blocking: K block pc (kc = blockingFor's kc, the
// last one shorter) holds every column's NR-wide panels at out + pc * roundUp(N, NR); out holds
// roundUp(N, NR) * K floats.
template <class Kernel>
void packWholeB(const Problem& g, float* out) {
  const int64_t kcMax = blockingFor<Kernel>(1, g.N, g.K).kc, cols = roundUp(g.N, Kernel::NR);
  parallelFor(0, ceilDiv(g.K, kcMax), 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t pc = b * kcMax, kc = std::min(kcMax, g.K - pc);
      packB<Kernel::NR>(g, pc, kc, 0, g.N, out + pc * cols);
    }
  });
}

// Prefetches a C tile (rows, cols) for writing; each row may straddle two cache lines.
inline void prefetchCTile(const float* c, int64_t ldc, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + cols - 1, 1, 3);
  }
}

// Prefetches a tile (rows, cols) of the epilogue's z for reading. Its rows lie a row of C apart, more
// rows than the hardware prefetcher follows (a residual at 56x56 read from L3 without this cost
// more than the product itself).
inline void prefetchZTile(const float* z, int64_t ldz, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    __builtin_prefetch(z + r * ldz, 0, 3);
    __builtin_prefetch(z + r * ldz + cols - 1, 0, 3);
  }
}

// C rows [i0, i0 + mc), columns [j0, j0 + nc) = alpha * packed A block (mc, kc) * packed
// B block (kc, nc) + beta * C. Before each micro-kernel call the C tile of the next one is
// prefetched, so that tile's cache misses overlap this tile's arithmetic. With lastK (the block
// holds the last K columns of A), each tile gets the problem's epilogue as soon as it is written.
template <class Kernel>
void macroKernel(const Problem& g, int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t kc, float beta,
                 const float* packedA, const float* packedB, bool lastK) {
  const Epilogue* epilogue = lastK ? g.epilogue : nullptr;
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  float* cBlock = g.C + i0 * g.ldc + j0;
  prefetchCTile(cBlock, g.ldc, std::min<int64_t>(MR, mc), std::min<int64_t>(NR, nc));
  if (epilogue && epilogue->z)
    prefetchZTile(epilogue->z + i0 * epilogue->ldz + j0, epilogue->ldz, std::min<int64_t>(MR, mc),
                  std::min<int64_t>(NR, nc));
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
      const int64_t nextIr = ir + MR < mc ? ir + MR : 0;
      const int64_t nextJr = ir + MR < mc ? jr : jr + NR;
      if (nextJr < nc) {
        const int64_t rows = std::min<int64_t>(MR, mc - nextIr), cols = std::min<int64_t>(NR, nc - nextJr);
        prefetchCTile(cBlock + nextIr * g.ldc + nextJr, g.ldc, rows, cols);
        if (epilogue && epilogue->z)
          prefetchZTile(epilogue->z + (i0 + nextIr) * epilogue->ldz + j0 + nextJr, epilogue->ldz, rows, cols);
      }
      Kernel::run(kc, packedA + ir * kc, packedB + jr * kc, cBlock + ir * g.ldc + jr, g.ldc, mr, nr, g.alpha,
                  beta);
      if (epilogue) Kernel::epilogue(*epilogue, g.C, g.ldc, i0 + ir, j0 + jr, mr, nr);
    }
  }
}

// The loops of the header comment on one thread, for columns [colBegin, colEnd) of C (colBegin a
// multiple of NR). packedA holds one A block, packedB one B block. The K blocks (kc) depend on K
// only, so any column range sums each element of C in the same order.
template <class Kernel>
void computeSerial(const Problem& g, float* packedA, float* packedB, int64_t colBegin, int64_t colEnd) {
  const Blocking bl = blockingFor<Kernel>(g.M, colEnd - colBegin, g.K);
  for (int64_t jc = colBegin; jc < colEnd; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, colEnd - jc);
    for (int64_t pc = 0; pc < g.K; pc += bl.kc) {
      const int64_t kc = std::min(bl.kc, g.K - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate onto C
      const float* blockB = g.packedB ? g.packedB + pc * g.packedCols + jc * kc : packedB;
      if (!g.packedB) packB<Kernel::NR>(g, pc, kc, jc, nc, packedB);
      for (int64_t ic = 0; ic < g.M; ic += bl.mc) {
        const int64_t mc = std::min(bl.mc, g.M - ic);
        const float* blockA = g.packedA ? g.packedA + pc * g.packedRows + ic * kc : packedA;
        if (!g.packedA) packA<Kernel::MR>(g, ic, mc, pc, kc, packedA);
        macroKernel<Kernel>(g, ic, mc, jc, nc, kc, beta, blockA, blockB, pc + kc == g.K);
      }
    }
  }
}

// Multi-threaded GEMM in one hand-off (see computeShared). Waking a pool thread can take
// milliseconds on a virtual machine, so a call wakes the threads once and they then schedule
// the work among themselves: a thread that wakes late, or runs on a busy core, takes fewer tasks.

// Compute tasks per thread and round, for balance.
constexpr int kComputeTasksPerThread = 4;
// Pack tasks per thread and round, and the fewest NR panels in one.
constexpr int kPackTasksPerThread = 2;
constexpr int64_t kMinPanelsPerPackTask = 4;
// Most floats of B packed per round: several (KC, NC) blocks when they are small, so a short K
// takes fewer rounds; NC shrinks so that one block fits. Rounds rotate through three buffers.
constexpr int64_t kMaxPackedBPerRound = int64_t{1} << 19;
constexpr int kPackedBBuffers = 3;

// Spins (yielding the core) until counter reaches target.
inline void waitFor(const std::atomic<int64_t>& counter, int64_t target) {
  while (counter.load(std::memory_order_acquire) < target) std::this_thread::yield();
}

// A round: the K blocks [kBegin, kEnd) of the NC-column block at jc.
struct Round {
  int64_t jc, nc, kBegin, kEnd;
  int64_t packTasks;  // each packs a range of B's NR panels for all the round's K blocks
  int64_t colChunks;  // compute task = (MC-row block, column chunk); tasks = row blocks x colChunks
};

// A stage: a run of consecutive tasks, all packing or all computing one round.
struct Stage {
  bool pack;
  int64_t round, firstTask, endTask;
};

// The blocks, rounds and task order of a multi-threaded product.
struct SharedPlan {
  Blocking bl;
  int64_t rowBlocks, kBlocksPerRound;
  size_t blockFloatsA, blockFloatsB;  // one packed (MC, KC) A block, one packed (KC, NC) B block
  std::vector<Round> rounds;
  std::vector<Stage> stages;  // in claim order; the last one ends at the total task count

  int64_t computeTasks(int64_t round) const { return rowBlocks * rounds[round].colChunks; }
  // Columns [begin, end) of NR-panel range `part` of `parts` of a round's block.
  static std::pair<int64_t, int64_t> columns(const Round& rd, int64_t part, int64_t parts, int NR) {
    const int64_t panels = ceilDiv(rd.nc, NR);
    return {part * panels / parts * NR, std::min(rd.nc, (part + 1) * panels / parts * NR)};
  }
};

template <class Kernel>
SharedPlan planShared(const Problem& g, int threads) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  SharedPlan plan;
  Blocking& bl = plan.bl;
  bl = blockingFor<Kernel>(g.M, g.N, g.K);
  bl.nc = evenBlock(g.N, std::min(bl.nc, std::max<int64_t>(NR, kMaxPackedBPerRound / bl.kc / NR * NR)), NR);
  // Row blocks in a multiple of the thread count, so that on idle cores every thread gets the same share.
  bl.mc = std::min(bl.mc, roundUp(ceilDiv(g.M, roundUp(ceilDiv(g.M, bl.mc), threads)), MR));
  plan.rowBlocks = ceilDiv(g.M, bl.mc);
  plan.blockFloatsA = cacheLineFloats(bl.mc * bl.kc);
  plan.blockFloatsB = cacheLineFloats(bl.kc * bl.nc);
  const int64_t kBlocks = ceilDiv(g.K, bl.kc);
  plan.kBlocksPerRound = std::max<int64_t>(
      1, std::min<int64_t>(kBlocks, kMaxPackedBPerRound / static_cast<int64_t>(plan.blockFloatsB)));
  for (int64_t jc = 0; jc < g.N; jc += bl.nc)
    for (int64_t kBegin = 0; kBegin < kBlocks; kBegin += plan.kBlocksPerRound) {
      const int64_t nc = std::min(bl.nc, g.N - jc), panels = ceilDiv(nc, NR);
      const int64_t packTasks =
          std::min<int64_t>(ceilDiv(panels, kMinPanelsPerPackTask), int64_t{kPackTasksPerThread} * threads);
      const int64_t colChunks = std::min(panels, ceilDiv(int64_t{kComputeTasksPerThread} * threads, plan.rowBlocks));
      plan.rounds.push_back({jc, nc, kBegin, std::min(kBlocks, kBegin + plan.kBlocksPerRound), packTasks, colChunks});
    }
  const int64_t roundCount = static_cast<int64_t>(plan.rounds.size());
  int64_t tasks = 0;
  auto addStage = [&](bool pack, int64_t r) {
    const int64_t count = pack ? plan.rounds[r].packTasks : plan.computeTasks(r);
    plan.stages.push_back({pack, r, tasks, tasks + count});
    tasks += count;
  };
  for (int64_t r = 0; r <= roundCount; ++r) {
    if (r < roundCount) addStage(true, r);
    if (r >= 1) addStage(false, r - 1);
  }
  return plan;
}

// Tasks are claimed in one global order, from one atomic counter:
//   pack 0, pack 1, compute 0, pack 2, compute 1, ..., pack R-1, compute R-2, compute R-1
// so B is packed a round ahead. A task waits only for tasks earlier in that order (claimed
// already, by threads that are running them), so some thread always makes progress:
//   pack r       waits until compute r-3 is done (it reuses that round's B buffer);
//   compute r    waits until pack r is done, and until compute r-1 of the same MC-row block is
//                done when r-1 is an earlier K round of the same columns (both update that C).
template <class Kernel>
void computeShared(const Problem& g, int threads, PackBuffer& buffer) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const SharedPlan plan = planShared<Kernel>(g, threads);
  const Blocking& bl = plan.bl;
  const int64_t roundCount = static_cast<int64_t>(plan.rounds.size());
  const int64_t totalTasks = plan.stages.back().endTask;

  // kPackedBBuffers rounds of packed B, then one A area per thread that holds a row block's A for
  // all of a round's K blocks. K block kb of a round is at (kb - kBegin) * blockFloats{A,B}.
  const size_t roundFloatsB = static_cast<size_t>(plan.kBlocksPerRound) * plan.blockFloatsB;
  const size_t areaFloatsA = static_cast<size_t>(plan.kBlocksPerRound) * plan.blockFloatsA;
  float* packedBs = buffer.reserve(kPackedBBuffers * roundFloatsB + static_cast<size_t>(threads) * areaFloatsA);
  float* packedAs = packedBs + kPackedBBuffers * roundFloatsB;

  std::atomic<int64_t> nextTask{0};
  std::unique_ptr<std::atomic<int64_t>[]> packsDone(new std::atomic<int64_t>[roundCount]());
  std::unique_ptr<std::atomic<int64_t>[]> computesDone(new std::atomic<int64_t>[roundCount]());
  // Column chunks done per (round, row block).
  std::unique_ptr<std::atomic<int64_t>[]> chunksDone(new std::atomic<int64_t>[roundCount * plan.rowBlocks]());

  auto packTask = [&](const Round& rd, float* packedB, int64_t task) {
    const auto [j, jEnd] = SharedPlan::columns(rd, task, rd.packTasks, NR);
    for (int64_t kb = rd.kBegin; kb < rd.kEnd; ++kb) {
      const int64_t pc = kb * bl.kc, kc = std::min(bl.kc, g.K - pc);
      packB<NR>(g, pc, kc, rd.jc + j, jEnd - j, packedB + (kb - rd.kBegin) * plan.blockFloatsB + j * kc);
    }
  };
  auto computeTask = [&](const Round& rd, const float* packedB, float* packedA, bool repackA, int64_t rowBlock,
                         int64_t chunk) {
    const int64_t ic = rowBlock * bl.mc, mc = std::min(bl.mc, g.M - ic);
    const auto [j, jEnd] = SharedPlan::columns(rd, chunk, rd.colChunks, NR);
    for (int64_t kb = rd.kBegin; kb < rd.kEnd; ++kb) {
      const int64_t pc = kb * bl.kc, kc = std::min(bl.kc, g.K - pc);
      float* area = packedA + (kb - rd.kBegin) * plan.blockFloatsA;
      const float* blockA = g.packedA ? g.packedA + pc * g.packedRows + ic * kc : area;
      if (repackA && !g.packedA) packA<MR>(g, ic, mc, pc, kc, area);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate onto C
      macroKernel<Kernel>(g, ic, mc, rd.jc + j, jEnd - j, kc, beta, blockA,
                          packedB + (kb - rd.kBegin) * plan.blockFloatsB + j * kc, pc + kc == g.K);
    }
  };
  auto participate = [&](int64_t participant) {
    float* packedA = packedAs + static_cast<size_t>(participant) * areaFloatsA;
    int64_t packedARound = -1, packedARowBlock = -1;  // what packedA holds
    size_t stage = 0;
    for (;;) {
      const int64_t task = nextTask.fetch_add(1, std::memory_order_relaxed);
      if (task >= totalTasks) return;
      while (task >= plan.stages[stage].endTask) ++stage;
      const Stage& st = plan.stages[stage];
      const Round& rd = plan.rounds[st.round];
      const int64_t index = task - st.firstTask;
      float* packedB = packedBs + static_cast<size_t>(st.round % kPackedBBuffers) * roundFloatsB;
      if (st.pack) {
        const int64_t reused = st.round - kPackedBBuffers;
        if (reused >= 0) waitFor(computesDone[reused], plan.computeTasks(reused));
        packTask(rd, packedB, index);
        packsDone[st.round].fetch_add(1, std::memory_order_release);
        continue;
      }
      const int64_t rowBlock = index / rd.colChunks, chunk = index % rd.colChunks;
      waitFor(packsDone[st.round], rd.packTasks);
      if (st.round > 0 && plan.rounds[st.round - 1].jc == rd.jc)
        waitFor(chunksDone[(st.round - 1) * plan.rowBlocks + rowBlock], rd.colChunks);
      const bool repackA = packedARound != st.round || packedARowBlock != rowBlock;
      computeTask(rd, packedB, packedA, repackA, rowBlock, chunk);
      packedARound = st.round;
      packedARowBlock = rowBlock;
      chunksDone[st.round * plan.rowBlocks + rowBlock].fetch_add(1, std::memory_order_release);
      computesDone[st.round].fetch_add(1, std::memory_order_release);
    }
  };
  // A call gets disjoint participant ranges, so the A area of its first one is its own.
  parallelFor(0, threads, 1, [&](int64_t participant, int64_t) { participate(participant); });
}

// Below this many multiply-adds per thread, waking another thread costs more than it saves.
constexpr double kMinMultiplyAddsPerThread = 1 << 21;

// This thread's packing buffers; with several threads (computeShared) the others write into them too.
inline PackBuffer& threadPackBuffer() {
  thread_local PackBuffer buffer;
  return buffer;
}

// Columns [colBegin, colEnd) of the product on the calling thread (colBegin a multiple of NR).
template <class Kernel>
void sgemmColumnsSerial(const Problem& g, int64_t colBegin, int64_t colEnd) {
  const Blocking bl = blockingFor<Kernel>(g.M, colEnd - colBegin, g.K);
  const size_t floatsA = cacheLineFloats(bl.mc * bl.kc);
  float* packedA = threadPackBuffer().reserve(floatsA + cacheLineFloats(bl.kc * bl.nc));
  computeSerial<Kernel>(g, packedA, packedA + floatsA, colBegin, colEnd);
}

template <class Kernel>
void sgemmBlocked(const Problem& g) {
  const double multiplyAdds = static_cast<double>(g.M) * static_cast<double>(g.N) * static_cast<double>(g.K);
  int threads = inParallelRegion() ? 1 : numThreads();
  threads = static_cast<int>(std::min<double>(threads, std::max(1.0, multiplyAdds / kMinMultiplyAddsPerThread)));
  if (threads > 1) {
    computeShared<Kernel>(g, threads, threadPackBuffer());
    return;
  }
  sgemmColumnsSerial<Kernel>(g, 0, g.N);
}

}  // namespace gemm
}  // namespace cr
