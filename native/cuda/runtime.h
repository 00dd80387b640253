// The CUDA runtime side of the backend: status checks that become JS errors, the one stream of
// the device, device tensors (allocated by the caching allocator in allocator.cu), host <-> device
// copies and a reusable workspace. Host code only; kernels include common.cuh beside this file.
// The CUDA part uses one device: the current CUDA device (device 0 unless CUDA_VISIBLE_DEVICES
// says otherwise) is "cuda".
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "../core/error.h"
#include "../core/tensor.h"

namespace cr::cuda {

// Throws cr::Error "<call> failed: <cudaErrorName> (<description>)" naming the file and line.
// Out-of-memory is reported the same way (the allocator frees its cache and retries first).
void checkCuda(cudaError_t status, const char* call, const char* file, int line);

// Throws cr::Error with the exact reason when no usable CUDA device is present. Cheap after the
// first call; every entry point that touches the device calls it.
void ensureAvailable();

// The stream every kernel, copy, cuDNN and cuBLAS call of the backend runs on.
cudaStream_t stream();

// Scratch device memory of at least `bytes`, valid until the next call of workspace() (ops on
// the one stream run in order, so one op's workspace is free again when the next op starts).
// Process-wide and unsynchronised: called from the GPU thread only (handles.h), which it checks.
void* workspace(size_t bytes);
// Frees the workspace (it grows to the largest request, up to cuDNN's algorithm search limit).
void releaseWorkspace();
// Frees the pinned host buffers kept for reuse by PendingHostCopy.
void releasePinnedBuffers();

// New uninitialised / zeroed tensors in device memory.
Tensor empty(const Shape& shape, DType dtype = DType::Float32, MemoryFormat format = MemoryFormat::Contiguous);
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, MemoryFormat format = MemoryFormat::Contiguous);
// A copy of t on `device` (same dtype, shape and memory format).
Tensor toDevice(const Tensor& t, Device device);
// Copies src into dst (same shape, dtype and format; either may be on either device).
void copyInto(Tensor& dst, const Tensor& src);
// Waits for all work queued on the stream.
void synchronize();

// A copy of a device tensor into pinned host memory, queued now; wait() blocks until that copy
// (and what came before it on the stream) is done, and returns the values as a CPU tensor.
class PendingHostCopy {
 public:
  explicit PendingHostCopy(const Tensor& t);
  ~PendingHostCopy();
  PendingHostCopy(const PendingHostCopy&) = delete;
  PendingHostCopy& operator=(const PendingHostCopy&) = delete;
  Tensor wait();

 private:
  Tensor source_;       // kept alive until the copy is done
  void* pinned_ = nullptr;
  size_t pinnedBytes_ = 0;
  cudaEvent_t done_ = nullptr;
};

struct DeviceMemoryStats {
  int64_t allocatedBytes;      // in live tensors
  int64_t reservedBytes;       // held from cudaMalloc (allocated + cached)
  int64_t peakAllocatedBytes;
  int64_t allocations;         // allocations served since start
  int64_t cacheHits;           // of those, served from the cache
  int64_t deviceMallocs;       // cudaMalloc calls
};
DeviceMemoryStats memoryStats();
void resetPeak();
// Returns cached (free) blocks to the driver.
void emptyCache();

}  // namespace cr::cuda

#define CR_CUDA_CHECK(call) ::cr::cuda::checkCuda((call), #call, __FILE__, __LINE__)
// After a kernel launch: reports launch errors (bad configuration, no kernel image for the GPU).
#define CR_CUDA_CHECK_LAUNCH(name) ::cr::cuda::checkCuda(cudaGetLastError(), name " launch", __FILE__, __LINE__)
