// The CPU allocator: large blocks are mapped from the kernel and kept in a size-keyed cache
// after release, so a training loop that frees and allocates the same activation sizes every
// step reuses them instead of faulting fresh pages in. (Left to malloc, such a loop fragmented
// the heap here until the process ran out of memory.) Small blocks come from aligned_alloc.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "error.h"
#include "tensor.h"

namespace cr {
namespace {

constexpr size_t kLargeBlock = 256 * 1024;  // from here on: mmap + cache
constexpr size_t kPage = 4096;

size_t cacheLimit() {
  long pages = sysconf(_SC_PHYS_PAGES);
  size_t physical = pages > 0 ? static_cast<size_t>(pages) * kPage : (size_t{8} << 30);
  return std::min<size_t>(size_t{2} << 30, physical / 8);
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes < kLargeBlock) {
      void* p = std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
      CR_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
      return p;
    }
    size_t size = roundUp(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        return p;
      }
    }
    void* p = map(size);
    if (p == nullptr) {
      emptyCache();  // free what the cache holds and try once more
      p = map(size);
    }
    CR_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    return p;
  }

  void release(void* ptr, size_t bytes) override {
    if (bytes < kLargeBlock) {
      std::free(ptr);
      return;
    }
    size_t size = roundUp(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + size <= limit_) {
        free_[size].push_back(ptr);
        cached_ += size;
        return;
      }
    }
    munmap(ptr, size);
  }

  size_t cachedBytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  void emptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) munmap(p, size);
    free_.clear();
    cached_ = 0;
  }

 private:
  static size_t roundUp(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }
  static void* map(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  const size_t limit_ = cacheLimit();
};

CachingCpuAllocator& instance() {
  static CachingCpuAllocator a;
  return a;
}

}  // namespace

Allocator& cpuAllocator() { return instance(); }
size_t cpuCachedBytes() { return instance().cachedBytes(); }
void cpuEmptyCache() { instance().emptyCache(); }

}  // namespace cr
