// The backend's one cuDNN handle and one cuBLAS handle (see handles.h). Each is created on first
// use, after the library is loaded and the device is known to be usable, and bound to the
// backend's stream. The handles live as long as the process: they are never destroyed, since
// destroying them while static objects are torn down could run after the CUDA context is gone.
#include "handles.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "device_info.h"
#include "dynload.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

// cuBLAS's workspace size as NVIDIA's cuBLAS documentation recommends it: 32 MiB on Hopper
// (compute capability 9.0) and newer, 4 MiB before.
size_t cublasWorkspaceBytes() {
  const CudaInfo info = cudaInfo();
  const int major = info.devices.empty() ? 0 : info.devices[0].major;
  return (major >= 9 ? size_t{32} : size_t{4}) << 20;
}

}  // namespace

// The thread of the first call owns the handles, the workspace and the capture state (handles.h).
void expectGpuThread(const char* what) {
  static const std::thread::id owner = std::this_thread::get_id();
  CR_CHECK(std::this_thread::get_id() == owner, what,
           " was called from a thread other than the one that made the first GPU call: the backend's handles, "
           "workspaces and capture state are not synchronised, so GPU ops must all come from one thread");
}

dnn::cudnnHandle_t cudnnHandle() {
  expectGpuThread("cuDNN");
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
  expectGpuThread("cuBLAS");
  static std::atomic<blas::cublasHandle_t> handle{nullptr};
  static std::mutex creating;
  // cuBLAS's workspace, from the project's allocator (counted, and never allocated by cuBLAS
  // itself during a capture); held for the life of the process, like the handle.
  static Tensor* workspaceTensor = nullptr;
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
    if (!workspaceTensor) {
      const auto bytes = static_cast<int64_t>(cublasWorkspaceBytes());
      workspaceTensor = new Tensor(cuda::empty({bytes}, DType::UInt8));
    }
    CR_CUBLAS_CHECK(blas::cublasSetWorkspace_v2(created, workspaceTensor->storage->data, workspaceTensor->nbytes()));
  } catch (...) {
    blas::cublasDestroy_v2(created);
    throw;
  }
  handle.store(created, std::memory_order_release);
  return created;
}

void prepareHandles() {
  if (cudnnLibrary().loaded) cudnnHandle();
  if (cublasLibrary().loaded) cublasHandle();
}

}  // namespace cr::cuda
