// The OpenBLAS backend, loaded at run time with dlopen so the addon never links it, and
// sgemm()'s dispatch between it and the built-in kernel.
#include <dlfcn.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "../core/error.h"
#include "../core/parallel.h"
#include "gemm.h"

namespace cr {
namespace {

// Values from the published cblas.h.
constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;

using CblasSgemmFn = void (*)(int layout, int transA, int transB, int M, int N, int K, float alpha, const float* A,
                              int lda, const float* B, int ldb, float beta, float* C, int ldc);
using SetNumThreadsFn = void (*)(int threads);
using GetConfigFn = char* (*)();

struct OpenBlasLibrary {
  CblasSgemmFn sgemm = nullptr;
  SetNumThreadsFn setNumThreads = nullptr;  // absent in some builds
  std::string info;                          // where it was loaded from, or why it was not
  std::atomic<int> threads{0};               // the thread count last handed to OpenBLAS
};

std::string lastDlError() {
  const char* message = dlerror();
  return message ? message : "unknown dlopen error";
}

void load(OpenBlasLibrary& lib) {
  std::string failures;
  for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      failures += (failures.empty() ? "" : "; ") + lastDlError();
      continue;
    }
    void* sgemm = dlsym(handle, "cblas_sgemm");
    if (!sgemm) {
      failures += (failures.empty() ? "" : "; ") + std::string(name) + ": " + lastDlError();
      dlclose(handle);
      continue;
    }
    // The handle stays open for the life of the process.
    lib.sgemm = reinterpret_cast<CblasSgemmFn>(sgemm);
    lib.setNumThreads = reinterpret_cast<SetNumThreadsFn>(dlsym(handle, "openblas_set_num_threads"));
    auto getConfig = reinterpret_cast<GetConfigFn>(dlsym(handle, "openblas_get_config"));
    Dl_info where{};
    const bool located = dladdr(sgemm, &where) != 0 && where.dli_fname != nullptr;
    lib.info = std::string(located ? where.dli_fname : name);
    const char* config = getConfig ? getConfig() : nullptr;
    if (config) lib.info += " (" + std::string(config) + ")";
    return;
  }
  lib.info = "OpenBLAS not loaded: " + failures;
}

OpenBlasLibrary& openBlas() {
  static OpenBlasLibrary lib;
  static std::once_flag loaded;
  std::call_once(loaded, [] { load(lib); });
  return lib;
}

// The built-in kernel is the default: it matches OpenBLAS at 2048^3 here, and unlike OpenBLAS it
// runs serially inside the ops' own parallel regions instead of competing with them for cores.
// CUDNN_RESNET_GEMM=openblas starts with OpenBLAS when it can be loaded.
GemmBackend initialBackend() {
  const char* requested = std::getenv("CUDNN_RESNET_GEMM");
  if (requested && std::string(requested) == "openblas" && openBlasAvailable()) return GemmBackend::OpenBlas;
  return GemmBackend::Builtin;
}

std::atomic<GemmBackend>& backendState() {
  static std::atomic<GemmBackend> backend{initialBackend()};
  return backend;
}

// The leading dimension cblas accepts for a stored (rows, cols) matrix: at least max(1, cols).
// A single row is never strided, so any ld works there; -1 when ld cannot be expressed.
int64_t blasLeadingDim(int64_t rows, int64_t cols, int64_t ld) {
  const int64_t minimum = cols > 1 ? cols : 1;
  if (ld >= minimum) return ld;
  return rows <= 1 ? minimum : -1;
}

bool fitsInt(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

bool openBlasAvailable() { return openBlas().sgemm != nullptr; }

std::string openBlasInfo() { return openBlas().info; }

GemmBackend gemmBackend() { return backendState().load(); }

void setGemmBackend(GemmBackend backend) {
  CR_CHECK_TYPE(backend == GemmBackend::Builtin || backend == GemmBackend::OpenBlas,
                "setGemmBackend: unknown backend ", static_cast<int>(backend));
  CR_CHECK_TYPE(backend != GemmBackend::OpenBlas || openBlasAvailable(),
                "setGemmBackend: the OpenBLAS backend is not available. ", openBlasInfo());
  backendState().store(backend);
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const Epilogue* epilogue) {
  // Empty products (K == 0 or alpha == 0) only scale C; the built-in path does that without reading A or B.
  const bool useOpenBlas = gemmBackend() == GemmBackend::OpenBlas && M > 0 && N > 0 && K > 0 && alpha != 0.0f;
  if (useOpenBlas) {
    // Stored shapes: A is (M, K), or (K, M) when transposed; B is (K, N), or (N, K). Sizes or
    // strides beyond int, or strides cblas would reject, go to the built-in kernel.
    const int64_t ldA = transA ? blasLeadingDim(K, M, lda) : blasLeadingDim(M, K, lda);
    const int64_t ldB = transB ? blasLeadingDim(N, K, ldb) : blasLeadingDim(K, N, ldb);
    const int64_t ldC = blasLeadingDim(M, N, ldc);
    if (fitsInt(M) && fitsInt(N) && fitsInt(K) && fitsInt(ldA) && fitsInt(ldB) && fitsInt(ldC)) {
      // OpenBLAS uses as many threads as cr does. It is safe to call from several threads at once
      // (from inside a parallel region), though its own threads then compete with the callers.
      OpenBlasLibrary& lib = openBlas();
      const int threads = numThreads();
      if (lib.setNumThreads && lib.threads.exchange(threads) != threads) lib.setNumThreads(threads);
      lib.sgemm(kCblasRowMajor, transA ? kCblasTrans : kCblasNoTrans, transB ? kCblasTrans : kCblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(ldA), B,
                static_cast<int>(ldB), beta, C, static_cast<int>(ldC));
      if (epilogue) applyEpilogue(*epilogue, C, ldc, 0, 0, M, N);
      return;
    }
  }
  sgemmBuiltin(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epilogue);
}

}  // namespace cr
