// The caching device allocator. Freed blocks are kept in size buckets and handed out again to
// the next request of the same bucket, so a training loop stops calling cudaMalloc after its
// first step. Requests round up to 512 bytes below 1 MiB and to a quarter of their power of two
// above (at most 25% slack). All work runs on one stream, so a block freed by the host can be
// reused at once: later work on the stream is ordered after earlier use of the block.
// On cudaMalloc failure the cache is returned to the driver and the allocation retried once;
// a second failure is an error the program can catch, with the figures that explain it.
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <sstream>

#include "allocator.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kSmallQuantum = 512;

size_t roundSize(size_t bytes) {
  if (bytes == 0) return kSmallQuantum;
  if (bytes < kSmallLimit) return (bytes + kSmallQuantum - 1) / kSmallQuantum * kSmallQuantum;
  size_t power = kSmallLimit;
  while (power * 2 <= bytes) power *= 2;
  size_t quarter = power / 4;
  return (bytes + quarter - 1) / quarter * quarter;
}

std::string mib(int64_t bytes) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return os.str();
}

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = roundSize(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* ptr = nullptr;
    auto it = free_.find(size);
    if (it != free_.end()) {
      ptr = it->second;
      free_.erase(it);
      ++stats_.cacheHits;
    } else {
      ptr = deviceMalloc(size, bytes);  // throws on failure: a failed request is not counted as served
    }
    ++stats_.allocations;
    sizes_[ptr] = size;
    stats_.allocatedBytes += static_cast<int64_t>(size);
    if (stats_.allocatedBytes > stats_.peakAllocatedBytes) stats_.peakAllocatedBytes = stats_.allocatedBytes;
    return ptr;
  }

  void release(void* ptr, size_t) noexcept override {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = sizes_.find(ptr);
    if (it == sizes_.end()) return;  // not ours: never happens, and must not throw in a destructor
    stats_.allocatedBytes -= static_cast<int64_t>(it->second);
    free_.emplace(it->second, ptr);
    sizes_.erase(it);
  }

  void emptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    releaseCached();
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void resetPeak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peakAllocatedBytes = stats_.allocatedBytes;
  }

 private:
  // Called with the mutex held.
  void* deviceMalloc(size_t size, size_t requested) {
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the error before retrying
      releaseCached();
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t freeBytes = 0, totalBytes = 0;
      cudaMemGetInfo(&freeBytes, &totalBytes);
      std::ostringstream os;
      os << "CUDA out of memory: tried to allocate " << mib(static_cast<int64_t>(requested)) << "; "
         << mib(stats_.allocatedBytes) << " in live tensors, " << mib(stats_.reservedBytes) << " reserved, "
         << mib(static_cast<int64_t>(freeBytes)) << " free of " << mib(static_cast<int64_t>(totalBytes))
         << " on the device (the cache was emptied and the allocation retried once)";
      throw Error(ErrorKind::Generic, os.str());
    }
    checkCuda(status, "cudaMalloc", __FILE__, __LINE__);
    stats_.reservedBytes += static_cast<int64_t>(size);
    ++stats_.deviceMallocs;
    return ptr;
  }

  void releaseCached() {
    if (free_.empty()) return;
    // cudaFree waits for the device, so no kernel still uses a block when it is returned.
    for (auto& [size, ptr] : free_) {
      cudaFree(ptr);
      stats_.reservedBytes -= static_cast<int64_t>(size);
    }
    free_.clear();
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;   // bucket size -> cached block
  std::map<void*, size_t> sizes_;       // live block -> bucket size
  DeviceMemoryStats stats_{};
};

CachingAllocator& instance() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: storages may outlive static teardown
  return *a;
}

}  // namespace

Allocator& deviceAllocator() { return instance(); }
DeviceMemoryStats memoryStats() { return instance().stats(); }
void resetPeak() { instance().resetPeak(); }
void emptyCache() { instance().emptyCache(); }

}  // namespace cr::cuda
