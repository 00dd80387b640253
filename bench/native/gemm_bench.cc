// Checks the built-in SGEMM (every instruction set this CPU runs) and the OpenBLAS backend
// against a double-precision reference, then times built-in vs OpenBLAS side by side.
// The relative error of an element is |c - exact| / (|alpha| * sum_k |a_ik * b_kj| + |beta * c0|),
// the scale that rounding errors of a dot product grow with. Exits 1 when any check fails.
// The timed built-in kernel is the one sgemmBuiltin picks (CUDNN_RESNET_CPU_ISA=portable|avx2|avx512
// forces one). Build and run (optional argument: thread count):
//   g++ -std=c++17 -O3 -Wall -Wextra -pthread -Inative bench/native/gemm_bench.cc native/cpu/gemm.cc native/cpu/openblas.cc native/core/cpu_features.cc native/core/parallel.cc native/core/tensor.cc native/core/dtype.cc native/core/cpu_allocator.cc -ldl -o /tmp/gemm_bench && /tmp/gemm_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"

namespace {

using SgemmFn = std::function<void(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                   int64_t, float, float*, int64_t)>;

struct Implementation {
  std::string name;
  SgemmFn run;
};

constexpr double kTolerance = 1e-4;
constexpr float kAlpha = 0.7f;
constexpr float kSentinel = -12345.0f;  // fills C's padding columns, which must stay untouched

std::vector<float> randomMatrix(int64_t rows, int64_t ld, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(std::max<int64_t>(rows, 1) * ld));
  for (float& v : m) v = dist(rng);
  return m;
}

struct Case {
  int64_t M, N, K;
};

// A product op(A) (M, K) * op(B) (K, N) with padded leading dimensions, and its exact value
// (product: (M, N)) and the sum of |terms| (magnitude: (M, N)) that scales the error bound.
struct Operands {
  bool transA, transB;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<float> A, B, C0;
  std::vector<double> product, magnitude;
};

Operands makeOperands(const Case& c, bool transA, bool transB, std::mt19937& rng) {
  Operands o{transA, transB, c.M, c.N, c.K, 0, 0, 0, {}, {}, {}, {}, {}};
  const int64_t aRows = transA ? c.K : c.M, aCols = transA ? c.M : c.K;
  const int64_t bRows = transB ? c.N : c.K, bCols = transB ? c.K : c.N;
  o.lda = aCols + 3;
  o.ldb = bCols + 5;
  o.ldc = c.N + 2;
  o.A = randomMatrix(aRows, o.lda, rng);
  o.B = randomMatrix(bRows, o.ldb, rng);
  o.C0 = randomMatrix(c.M, o.ldc, rng);
  o.product.assign(static_cast<size_t>(c.M * c.N), 0.0);
  o.magnitude.assign(static_cast<size_t>(c.M * c.N), 0.0);
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t k = 0; k < c.K; ++k) {
      const double a = transA ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
      for (int64_t j = 0; j < c.N; ++j) {
        const double b = transB ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
        o.product[i * c.N + j] += a * b;
        o.magnitude[i * c.N + j] += std::fabs(a * b);
      }
    }
  return o;
}

// Runs one implementation with the given beta; returns the max relative error, or infinity when
// a result is not finite or a padding column changed.
double checkOne(const Implementation& impl, const Operands& o, float beta) {
  // C: (M, ldc). Padding columns hold a sentinel; with beta == 0 the rest is NaN, which the
  // kernel must not read.
  std::vector<float> C = o.C0;
  for (int64_t i = 0; i < o.M; ++i)
    for (int64_t j = 0; j < o.ldc; ++j) {
      float& c = C[i * o.ldc + j];
      if (j >= o.N) c = kSentinel;
      else if (beta == 0.0f) c = std::numeric_limits<float>::quiet_NaN();
    }
  impl.run(o.transA, o.transB, o.M, o.N, o.K, kAlpha, o.A.data(), o.lda, o.B.data(), o.ldb, beta, C.data(), o.ldc);
  double worst = 0;
  for (int64_t i = 0; i < o.M; ++i) {
    for (int64_t j = o.N; j < o.ldc; ++j)
      if (C[i * o.ldc + j] != kSentinel) return std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < o.N; ++j) {
      const double c0 = beta == 0.0f ? 0.0 : o.C0[i * o.ldc + j];
      const double expected = kAlpha * o.product[i * o.N + j] + beta * c0;
      const double scale = std::fabs(kAlpha) * o.magnitude[i * o.N + j] + std::fabs(beta * c0);
      const double got = C[i * o.ldc + j];
      if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
      worst = std::max(worst, std::fabs(got - expected) / std::max(scale, 1e-30));
    }
  }
  return worst;
}

// Odd sizes with padded leading dimensions; the larger ones cover several K blocks, more than
// NC columns, and both ways of sharing C among threads (tiles; shared B in one or more rounds).
bool runChecks(const std::vector<Implementation>& impls) {
  const std::vector<Case> cases = {{1, 1, 1},      {7, 13, 5},      {65, 33, 130},    {300, 257, 129}, {150, 4100, 270},
                                   {700, 300, 520}, {600, 4100, 40}, {580, 520, 1000}, {5, 7, 0}};
  std::mt19937 rng(42);
  bool ok = true;
  std::printf("max relative error (tolerance %.0e)\n%-16s %-5s %-5s", kTolerance, "M x N x K", "op", "beta");
  for (const Implementation& impl : impls) std::printf(" %18s", impl.name.c_str());
  std::printf("\n");
  for (const Case& c : cases)
    for (int t = 0; t < 4; ++t) {
      const Operands o = makeOperands(c, t & 1, t & 2, rng);
      for (float beta : {0.0f, 1.3f}) {
        const std::string shape = std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K);
        std::printf("%-16s %c%c    %-5.1f", shape.c_str(), o.transA ? 'T' : 'N', o.transB ? 'T' : 'N', beta);
        for (const Implementation& impl : impls) {
          const double err = checkOne(impl, o, beta);
          const bool pass = err <= kTolerance;
          ok = ok && pass;
          std::printf(" %13.2e %4s", err, pass ? "" : "FAIL");
        }
        std::printf("\n");
      }
    }
  return ok;
}

// Two independent products run at once inside a parallel region (the built-in kernel goes
// serial there; OpenBLAS gets two concurrent callers).
bool runNestedCheck(const std::vector<Implementation>& impls) {
  std::mt19937 rng(7);
  const Operands o = makeOperands({97, 211, 300}, false, true, rng);
  bool ok = true;
  std::printf("%-16s %-5s %-5s", "97x211x300", "NT", "1.3");
  for (const Implementation& impl : impls) {
    double errors[2] = {0, 0};
    cr::parallelFor(0, 2, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) errors[i] = checkOne(impl, o, 1.3f);
    });
    const double err = std::max(errors[0], errors[1]);
    ok = ok && err <= kTolerance;
    std::printf(" %13.2e %4s", err, err <= kTolerance ? "" : "FAIL");
  }
  std::printf("  two at once inside a parallel region\n");
  return ok;
}

double secondsOf(const Implementation& impl, int64_t n, const float* A, const float* B, float* C) {
  const auto start = std::chrono::steady_clock::now();
  impl.run(false, false, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Median GFLOP/s of C (n, n) = A * B over 5 runs after a warm-up run.
double medianGflops(const Implementation& impl, int64_t n, const float* A, const float* B, float* C) {
  constexpr int kRepeats = 5;
  secondsOf(impl, n, A, B, C);
  std::vector<double> seconds;
  for (int r = 0; r < kRepeats; ++r) seconds.push_back(secondsOf(impl, n, A, B, C));
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * n * n * n / seconds[kRepeats / 2] * 1e-9;
}

// Each implementation runs its repeats back to back (its steady state), then rests:
// OpenBLAS's idle workers spin for about 2^28 cycles after a call before they sleep, and
// would otherwise take a core away from whatever is measured next.
void runTimings(const std::vector<Implementation>& impls) {
  constexpr std::chrono::milliseconds kRest{300};
  std::mt19937 rng(1);
  std::printf("\n%-6s", "n");
  for (const Implementation& impl : impls) std::printf(" %24s", (impl.name + " GFLOP/s").c_str());
  if (impls.size() == 2) std::printf(" %8s", "ratio");
  std::printf("\n");
  for (int64_t n : {512, 1024, 2048}) {
    const std::vector<float> A = randomMatrix(n, n, rng), B = randomMatrix(n, n, rng);
    std::vector<float> C(static_cast<size_t>(n * n));
    std::vector<double> gflops;
    for (const Implementation& impl : impls) {
      std::this_thread::sleep_for(kRest);
      gflops.push_back(medianGflops(impl, n, A.data(), B.data(), C.data()));
    }
    std::printf("%-6lld", static_cast<long long>(n));
    for (double g : gflops) std::printf(" %24.1f", g);
    if (gflops.size() == 2) std::printf(" %8.3f", gflops[0] / gflops[1]);
    std::printf("\n");
  }
}

}  // namespace

// Optional argument: the thread count (default: every core).
int main(int argc, char** argv) {
  if (argc > 1) cr::setNumThreads(std::atoi(argv[1]));
  cr::initCpuIsa();
  std::printf("threads: %d, built-in ISA: %s\nOpenBLAS: %s\n\n", cr::numThreads(), cr::builtinGemmIsa(),
              cr::openBlasInfo().c_str());
  std::vector<Implementation> checked;
  for (cr::CpuIsa isa : cr::cpuIsasAvailable()) {
    checked.push_back({std::string("builtin ") + cr::cpuIsaName(isa),
                       [isa](bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                             int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
                         cr::sgemmBuiltinWithIsa(isa, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                       }});
  }
  // sgemm() with the OpenBLAS backend; the built-in entries above call the kernel directly.
  const Implementation openBlas{"openblas", [](bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha,
                                                const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                                                float* C, int64_t ldc) {
                                 cr::sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                               }};
  if (cr::openBlasAvailable()) {
    cr::setGemmBackend(cr::GemmBackend::OpenBlas);
    checked.push_back(openBlas);
  }
  bool ok = runChecks(checked);
  ok = runNestedCheck(checked) && ok;
  std::printf("\nchecks: %s\n", ok ? "all passed" : "FAILED");

  std::vector<Implementation> timed = {
      {std::string("builtin ") + cr::builtinGemmIsa(),
       [](bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
         cr::sgemmBuiltin(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
       }}};
  if (cr::openBlasAvailable()) timed.push_back(openBlas);
  runTimings(timed);
  return ok ? 0 : 1;
}
