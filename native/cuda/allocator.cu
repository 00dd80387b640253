// The caching device allocator. Freed blocks are kept in size buckets and handed out again to
// the next request of the same bucket, so a training loop stops calling cudaMalloc after its
// first step. Requests round up to 512 bytes below 1 MiB and to a quarter of their power of two
// above (at most 25% slack). All work runs on one stream, so a block freed by the host can be
// reused at once: later work on the stream is ordered after earlier use of the block.
// On cudaMalloc failure the cache is returned to the driver and the allocation retried once;
// a second failure is an error the program can catch, with the figures that explain it.
//
// Private pools serve CUDA graphs (graph.cu). While a pool is active (a capture is under way),
// every allocation comes from that pool's cache or from cudaMalloc, and every block freed goes to
// that pool unless it belongs to another live pool (it then goes back to its own): a captured
// graph reads and writes those addresses at each replay, so none of them may be handed to a
// tensor made outside the graph, nor to another graph. Blocks of a pool freed after the capture
// go back to it too. When the graph is destroyed the pool is retired: its
// cached blocks join the general cache, and its blocks still in use join it when they are freed.
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "allocator.h"
#include "runtime.h"
#include "memory_policy.h"

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

using FreeList = std::multimap<size_t, void*>;  // bucket size -> cached block

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = roundSize(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    FreeList& cache = freeList(active_);
    void* ptr = nullptr;
    auto it = cache.find(size);
    if (it != cache.end()) {
      ptr = it->second;
      cache.erase(it);
      ++stats_.cacheHits;
    } else {
      ptr = deviceMalloc(size, bytes);  // throws on failure: a failed request is not counted as served
    }
    ++stats_.allocations;
    blocks_[ptr] = {size, active_};
    stats_.allocatedBytes += static_cast<int64_t>(size);
    if (stats_.allocatedBytes > stats_.peakAllocatedBytes) stats_.peakAllocatedBytes = stats_.allocatedBytes;
    return ptr;
  }

  void release(void* ptr, size_t) noexcept override {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(ptr);
    if (it == blocks_.end()) return;  // not ours: never happens, and must not throw in a destructor
    stats_.allocatedBytes -= static_cast<int64_t>(it->second.size);
    // A block of a live pool goes back to that pool, also while another graph is captured (graph A's
    // block must not join graph B's pool: B's replays would then write memory A uses). Any other
    // block goes to the pool being captured, if any (the capture may have used it), else the cache.
    const PoolId pool = poolOnFree(it->second.pool, pools_.count(it->second.pool) > 0, active_);
    freeList(pool).emplace(it->second.size, ptr);
    blocks_.erase(it);
  }

  PoolId createPool() {
    std::lock_guard<std::mutex> lock(mutex_);
    PoolId id = ++lastPool_;
    pools_[id];
    return id;
  }
  void setActivePool(PoolId pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    CR_CHECK(pool == 0 || pools_.count(pool), "allocator: pool ", pool, " does not exist");
    active_ = pool;
  }
  void retirePool(PoolId pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    free_.merge(it->second);
    pools_.erase(it);
    if (active_ == pool) active_ = 0;
  }

  // Blocks cached in a live pool stay: a graph uses them.
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
  struct Block {
    size_t size;
    PoolId pool;
  };

  // Called with the mutex held.
  FreeList& freeList(PoolId pool) { return pool == 0 ? free_ : pools_.at(pool); }

  // Called with the mutex held. During a capture (a pool is active) the cache cannot be returned
  // to the driver (cudaFree is not allowed then), so a failure is reported at once.
  void* deviceMalloc(size_t size, size_t requested) {
    void* ptr = nullptr;
    cudaError_t status = active_ != 0 ? mallocDuringCapture(&ptr, size) : cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation && active_ == 0) {
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

  // A capture (other than a relaxed one) forbids cudaMalloc on its thread, because the graph does
  // not replay allocations; the pool keeps this one for the graph's lifetime, so it is safe, and
  // the thread's capture mode is relaxed around the call.
  static cudaError_t mallocDuringCapture(void** ptr, size_t size) {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode);
    cudaError_t status = cudaMalloc(ptr, size);
    cudaThreadExchangeStreamCaptureMode(&mode);
    return status;
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
  FreeList free_;                        // the general cache
  std::map<PoolId, FreeList> pools_;     // live private pools and their caches
  PoolId active_ = 0, lastPool_ = 0;
  std::map<void*, Block> blocks_;        // live block -> bucket size and pool
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
PoolId createPool() { return instance().createPool(); }
void setActivePool(PoolId pool) { instance().setActivePool(pool); }
void retirePool(PoolId pool) { instance().retirePool(pool); }

}  // namespace cr::cuda
