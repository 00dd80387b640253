// The CUDA runtime side of the backend: availability, the stream, device tensors, copies and
// the workspace. See runtime.h.
#include "runtime.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "allocator.h"
#include "device_info.h"
#include "graph.h"
#include "handles.h"
#include "upload.h"

namespace cr::cuda {
namespace {

struct State {
  bool available = false;
  std::string reason;
  cudaStream_t stream = nullptr;
};

State& state() {
  static State s;
  static std::once_flag once;
  std::call_once(once, [] {
    CudaInfo info = cudaInfo();
    if (!info.available) {
      s.reason = info.reason;
      return;
    }
    cudaError_t status = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking);
    if (status != cudaSuccess) {
      s.reason = std::string("cudaStreamCreateWithFlags failed: ") + cudaGetErrorName(status) + " (" +
                 cudaGetErrorString(status) + ")";
      cudaGetLastError();
      return;
    }
    registerDeviceAllocator(Device::CUDA, &deviceAllocator());
    s.available = true;
  });
  return s;
}

cudaMemcpyKind copyKind(Device from, Device to) {
  if (from == Device::CPU) return to == Device::CPU ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice;
  return to == Device::CPU ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
}

}  // namespace

void checkCuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that later calls are not blamed for it
  detail::fail(ErrorKind::Generic, file, line, call, " failed: ", cudaGetErrorName(status), " (",
               cudaGetErrorString(status), ")");
}

void ensureAvailable() {
  const State& s = state();
  CR_CHECK(s.available, "CUDA is unavailable: ", s.reason);
}

cudaStream_t stream() {
  ensureAvailable();
  return state().stream;
}

Tensor empty(const Shape& shape, DType dtype, MemoryFormat format) {
  ensureAvailable();
  return emptyOn(Device::CUDA, shape, dtype, format);
}

Tensor zeros(const Shape& shape, DType dtype, MemoryFormat format) {
  Tensor t = cuda::empty(shape, dtype, format);
  if (t.nbytes() > 0) CR_CUDA_CHECK(cudaMemsetAsync(t.storage->data, 0, t.nbytes(), stream()));
  return t;
}

namespace {
Tensor& workspaceBuffer() {
  static Tensor buffer;  // grows; the old block goes back to the cache, reusable in stream order
  return buffer;
}
}  // namespace

void* workspace(size_t bytes) {
  expectGpuThread("the GPU workspace");
  Tensor& buffer = workspaceBuffer();
  if (!buffer.storage || buffer.nbytes() < bytes) {
    buffer = Tensor();  // free the smaller block first, so that it can serve the new one's neighbours
    buffer = cuda::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, DType::UInt8);
  }
  return buffer.storage->data;
}

void releaseWorkspace() { workspaceBuffer() = Tensor(); }

Tensor toDevice(const Tensor& t, Device device) {
  Tensor out = device == Device::CUDA ? cuda::empty(t.shape, t.dtype, t.format) : emptyOn(Device::CPU, t.shape, t.dtype, t.format);
  copyInto(out, t);
  return out;
}

void copyInto(Tensor& dst, const Tensor& src) {
  CR_CHECK_RANGE(dst.shape == src.shape && dst.dtype == src.dtype && dst.format == src.format,
                 "copy: source ", shapeString(src.shape), " ", dtypeName(src.dtype), " ", formatName(src.format),
                 " does not match destination ", shapeString(dst.shape), " ", dtypeName(dst.dtype), " ",
                 formatName(dst.format));
  if (dst.nbytes() == 0 || dst.storage == src.storage) return;
  if (dst.device == Device::CPU && src.device == Device::CPU) {
    std::memcpy(dst.storage->data, src.storage->data, dst.nbytes());
    return;
  }
  if (src.device == Device::CPU) {
    uploadFromHost(dst, src);
    return;
  }
  if (dst.device == Device::CPU)
    refuseDuringCapture("reading a GPU tensor back", "the captured work has not run yet; read the outputs after replay()");
  cudaStream_t s = stream();
  CR_CUDA_CHECK(cudaMemcpyAsync(dst.storage->data, src.storage->data, dst.nbytes(), copyKind(src.device, dst.device), s));
  // A copy into pageable host memory must be complete before the host reads it.
  if (dst.device == Device::CPU) CR_CUDA_CHECK(cudaStreamSynchronize(s));
}

void synchronize() {
  refuseDuringCapture("synchronize", "the captured work does not run until replay()");
  CR_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

namespace {
// Pinned host buffers for PendingHostCopy, kept for reuse (cudaMallocHost / cudaFreeHost are slow
// and cudaFreeHost may wait for the device), in power-of-two sizes from 4 KiB.
std::mutex gPinnedMutex;
std::multimap<size_t, void*> gPinnedFree;

size_t pinnedSize(size_t bytes) {
  size_t size = 4096;
  while (size < bytes) size *= 2;
  return size;
}
void* takePinned(size_t size) {
  {
    std::lock_guard<std::mutex> lock(gPinnedMutex);
    auto it = gPinnedFree.find(size);
    if (it != gPinnedFree.end()) {
      void* p = it->second;
      gPinnedFree.erase(it);
      return p;
    }
  }
  void* p = nullptr;
  CR_CUDA_CHECK(cudaMallocHost(&p, size));
  return p;
}
void givePinned(void* p, size_t size) {
  std::lock_guard<std::mutex> lock(gPinnedMutex);
  gPinnedFree.emplace(size, p);
}
}  // namespace

void releasePinnedBuffers() {
  std::lock_guard<std::mutex> lock(gPinnedMutex);
  for (auto& [size, p] : gPinnedFree) cudaFreeHost(p);
  gPinnedFree.clear();
}

PendingHostCopy::PendingHostCopy(const Tensor& t) : source_(t) {
  CR_CHECK(t.device == Device::CUDA, "PendingHostCopy: the tensor must be on the GPU");
  refuseDuringCapture("reading a GPU tensor back", "the captured work has not run yet; read the outputs after replay()");
  pinnedBytes_ = pinnedSize(t.nbytes());
  pinned_ = takePinned(pinnedBytes_);
  try {
    // Blocking sync: a waiting thread sleeps instead of spinning a core the data loader needs.
    CR_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming | cudaEventBlockingSync));
    if (t.nbytes() > 0)
      CR_CUDA_CHECK(cudaMemcpyAsync(pinned_, t.storage->data, t.nbytes(), cudaMemcpyDeviceToHost, stream()));
    CR_CUDA_CHECK(cudaEventRecord(done_, stream()));
  } catch (...) {
    if (done_) cudaEventDestroy(done_);
    givePinned(pinned_, pinnedBytes_);
    throw;
  }
}

PendingHostCopy::~PendingHostCopy() {
  if (done_) {
    cudaEventSynchronize(done_);  // never free memory a copy may still write
    cudaEventDestroy(done_);
  }
  if (pinned_) givePinned(pinned_, pinnedBytes_);
}

Tensor PendingHostCopy::wait() {
  CR_CUDA_CHECK(cudaEventSynchronize(done_));
  Tensor out = emptyOn(Device::CPU, source_.shape, source_.dtype, source_.format);
  std::memcpy(out.storage->data, pinned_, out.nbytes());
  source_ = Tensor();
  return out;
}

}  // namespace cr::cuda
