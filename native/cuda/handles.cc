// The backend's one cuDNN handle and one cuBLAS handle (see handles.h). Each is created on first
// use, after the library is loaded and the device is known to be usable, and bound to the
// backend's stream. The handles live as long as the process: they are never destroyed, since
// destroying them while static objects are torn down could run after the CUDA context is gone.
#include "handles.h"

#include <atomic>
#include <mutex>

#include "dynload.h"
#include "runtime.h"

namespace cr::cuda {

dnn::cudnnHandle_t cudnnHandle() {
  static std::atomic<dnn::cudnnHandle_t> handle{nullptr};
  static std::mutex creating;
  if (dnn::cudnnHandle_t ready = handle.load(std::memory_order_acquire)) return ready;

  std::lock_guard<std::mutex> lock(creating);
  if (dnn::cudnnHandle_t ready = handle.load(std::memory_order_acquire)) return ready;
  requireCudnn();
  ensureAvailable();
  dnn::cudnnHandle_t created = nullptr;
  CR_CUDNN_CHECK(dnn::cudnnCreate(&created));
  try {
    CR_CUDNN_CHECK(dnn::cudnnSetStream(created, stream()));
  } catch (...) {
    dnn::cudnnDestroy(created);
    throw;
  }
  handle.store(created, std::memory_order_release);
  return created;
}

blas::cublasHandle_t cublasHandle() {
  static std::atomic<blas::cublasHandle_t> handle{nullptr};
  static std::mutex creating;
  if (blas::cublasHandle_t ready = handle.load(std::memory_order_acquire)) return ready;

  std::lock_guard<std::mutex> lock(creating);
  if (blas::cublasHandle_t ready = handle.load(std::memory_order_acquire)) return ready;
  requireCublas();
  ensureAvailable();
  blas::cublasHandle_t created = nullptr;
  CR_CUBLAS_CHECK(blas::cublasCreate_v2(&created));
  try {
    CR_CUBLAS_CHECK(blas::cublasSetStream_v2(created, stream()));
    // Exact float32 unless an op asks for TF32 itself (it sets the math mode around its call).
    CR_CUBLAS_CHECK(blas::cublasSetMathMode(created, blas::CUBLAS_DEFAULT_MATH));
  } catch (...) {
    blas::cublasDestroy_v2(created);
    throw;
  }
  handle.store(created, std::memory_order_release);
  return created;
}

}  // namespace cr::cuda
