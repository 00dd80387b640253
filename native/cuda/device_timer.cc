// The device timer in builds with the CUDA part (see device_timer.h). Events come from a pool
// and go back to it once their pair is resolved; pairs complete in stream order, so a long
// queue of them is trimmed from the front, without waiting, as the GPU finishes the work.
#include "device_timer.h"

#include <deque>

#include "runtime.h"

namespace cr::cuda {
namespace {

// Pairs kept before the finished ones at the front are resolved early (bounds the events held).
constexpr size_t kResolveAt = 512;

// Clears the last error when a query left "not ready" in it, so that the next launch check of an
// op does not report it.
void clearNotReady() {
  if (cudaPeekAtLastError() == cudaErrorNotReady) cudaGetLastError();
}

bool capturing(cudaStream_t s) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &status) != cudaSuccess) {
    cudaGetLastError();
    return true;  // unknown: treat as capturing, so nothing is recorded
  }
  return status != cudaStreamCaptureStatusNone;
}

}  // namespace

struct DeviceTimer::Impl {
  struct Pair {
    cudaEvent_t start, end;
    int key;
  };
  cudaStream_t stream = nullptr;   // the backend's stream, once the first pair was started
  cudaEvent_t open = nullptr;      // start event of the work in progress
  std::vector<cudaEvent_t> pool;   // events free for reuse
  std::deque<Pair> pending;        // recorded pairs, oldest first
  std::vector<double> resolvedMs;  // by key: pairs resolved early, not yet collected

  cudaEvent_t acquire() {
    if (!pool.empty()) {
      cudaEvent_t e = pool.back();
      pool.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    if (cudaEventCreateWithFlags(&e, cudaEventBlockingSync) != cudaSuccess) {  // a wait sleeps, not spins
      cudaGetLastError();
      return nullptr;
    }
    return e;
  }
  void release(cudaEvent_t e) {
    if (e != nullptr) pool.push_back(e);
  }
  void add(std::vector<double>& msByKey, int key, double ms) {
    if (msByKey.size() <= static_cast<size_t>(key)) msByKey.resize(key + 1, 0.0);
    msByKey[key] += ms;
  }
  // Resolves the finished pairs at the front of the queue, without waiting.
  void resolveFinished() {
    while (!pending.empty()) {
      const Pair& p = pending.front();
      cudaError_t status = cudaEventQuery(p.end);
      if (status == cudaErrorNotReady) {
        clearNotReady();
        return;
      }
      float ms = 0;
      if (status == cudaSuccess && cudaEventElapsedTime(&ms, p.start, p.end) == cudaSuccess) add(resolvedMs, p.key, ms);
      else cudaGetLastError();
      release(p.start);
      release(p.end);
      pending.pop_front();
    }
  }
};

DeviceTimer::DeviceTimer() : impl_(std::make_unique<Impl>()) {}

DeviceTimer::~DeviceTimer() {
  clear();
  for (cudaEvent_t e : impl_->pool) cudaEventDestroy(e);
}

DeviceTimer::Start DeviceTimer::start() {
  Impl& m = *impl_;
  if (m.stream == nullptr) {
    try {
      m.stream = stream();  // starts the backend; throws where CUDA is unavailable
    } catch (const Error&) {
      return Start::Unused;
    }
  }
  if (capturing(m.stream)) return Start::Capturing;
  if (m.pending.size() >= kResolveAt) m.resolveFinished();
  m.release(m.open);
  m.open = m.acquire();
  if (m.open == nullptr) return Start::Unused;
  if (cudaEventRecord(m.open, m.stream) != cudaSuccess) {
    cudaGetLastError();
    m.release(m.open);
    m.open = nullptr;
    return Start::Unused;
  }
  return Start::Recorded;
}

void DeviceTimer::finish(int key) {
  Impl& m = *impl_;
  cudaEvent_t start = m.open;
  m.open = nullptr;
  if (start == nullptr) return;
  // The work itself may have begun a capture: then the end event would become part of the graph.
  cudaEvent_t end = capturing(m.stream) ? nullptr : m.acquire();
  if (end == nullptr || cudaEventRecord(end, m.stream) != cudaSuccess) {
    if (end != nullptr) cudaGetLastError();
    m.release(start);
    m.release(end);
    return;
  }
  m.pending.push_back({start, end, key});
}

void DeviceTimer::collect(std::vector<double>& msByKey) {
  Impl& m = *impl_;
  if (!m.pending.empty()) {
    CR_CHECK(!capturing(m.stream), "profiler: the device times cannot be read while a CUDA graph is being captured");
    // Pairs complete in stream order: once the last has, every earlier one has too.
    CR_CUDA_CHECK(cudaEventSynchronize(m.pending.back().end));
    m.resolveFinished();
  }
  for (size_t key = 0; key < m.resolvedMs.size(); ++key) m.add(msByKey, static_cast<int>(key), m.resolvedMs[key]);
  m.resolvedMs.clear();
}

void DeviceTimer::clear() {
  Impl& m = *impl_;
  m.release(m.open);
  m.open = nullptr;
  for (const Impl::Pair& p : m.pending) {
    m.release(p.start);
    m.release(p.end);
  }
  m.pending.clear();
  m.resolvedMs.clear();
}

}  // namespace cr::cuda
