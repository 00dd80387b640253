// Uploads through staging buffers owned by this file. A plain cudaMemcpyAsync from pageable
// memory makes the host wait for the DMA, which runs in stream order after the work already
// queued, so the host would stall for the rest of the step. Instead:
//   1. the host copies src into a pinned buffer (the only host work);
//   2. a side stream copies it into a device staging buffer, overlapping the queued kernels;
//   3. the backend's stream waits for that copy and copies staging -> dst (device bandwidth).
// dst may be a block that queued kernels still read (the caching allocator reuses blocks in the
// backend's stream order), so only step 3, ordered on that stream, touches it. A staging slot is
// reused once the event recorded after step 3 has completed; slots are kept per size.
#include "upload.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "graph.h"
#include "runtime.h"
#include "memory_policy.h"

namespace cr::cuda {
namespace {

constexpr size_t kMaxSlots = 16;

struct Slot {
  size_t bytes = 0;
  void* host = nullptr;
  void* device = nullptr;
  cudaEvent_t copied = nullptr;    // step 2 done (recorded on the side stream)
  cudaEvent_t consumed = nullptr;  // step 3 done (recorded on the backend's stream)
  bool used = false;               // consumed has been recorded at least once
};

std::mutex gMutex;
std::vector<Slot> gSlots;
cudaStream_t gCopyStream = nullptr;

// Powers of two from 4 KiB up to 1 MiB, then multiples of a quarter of the power of two below
// (at most 25% slack on a large batch).
size_t slotSize(size_t bytes) {
  size_t size = 4096;
  while (size < bytes && size < (size_t{1} << 20)) size *= 2;
  if (size >= bytes) return size;
  size_t power = size_t{1} << 20;
  while (power * 2 <= bytes) power *= 2;
  size_t quarter = power / 4;
  return (bytes + quarter - 1) / quarter * quarter;
}

bool idle(const Slot& s) {
  if (!s.used) return true;
  cudaError_t status = cudaEventQuery(s.consumed);
  if (status == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  CR_CUDA_CHECK(status);
  return true;
}

void freeSlot(Slot& s) {
  if (s.used) cudaEventSynchronize(s.consumed);
  if (s.copied) cudaEventDestroy(s.copied);
  if (s.consumed) cudaEventDestroy(s.consumed);
  if (s.host) cudaFreeHost(s.host);
  if (s.device) cudaFree(s.device);
  s = Slot{};
}

Slot makeSlot(size_t bytes) {
  Slot s;
  s.bytes = bytes;
  try {
    CR_CUDA_CHECK(cudaMallocHost(&s.host, bytes));
    CR_CUDA_CHECK(cudaMalloc(&s.device, bytes));
    CR_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    // Blocking sync: waiting for a slot at the cap sleeps instead of spinning.
    CR_CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming | cudaEventBlockingSync));
  } catch (...) {
    freeSlot(s);
    throw;
  }
  return s;
}

// An idle slot of exactly `size` bytes, never more than kMaxSlots of them (the policy:
// memory_policy.h). Called with the mutex held.
Slot& takeSlot(size_t size) {
  std::vector<size_t> sizes;
  for (const Slot& s : gSlots) sizes.push_back(s.bytes);
  const SlotChoice choice = chooseSlot(sizes, size, kMaxSlots, [](size_t i) { return idle(gSlots[i]); });
  switch (choice.kind) {
    case SlotChoice::Reuse:
      return gSlots[choice.index];
    case SlotChoice::Wait:
      CR_CUDA_CHECK(cudaEventSynchronize(gSlots[choice.index].consumed));
      return gSlots[choice.index];
    case SlotChoice::Replace:
      freeSlot(gSlots[choice.index]);  // waits for its copy when it is busy
      gSlots.erase(gSlots.begin() + static_cast<std::ptrdiff_t>(choice.index));
      break;
    case SlotChoice::Add:
      break;
  }
  gSlots.push_back(makeSlot(size));
  return gSlots.back();
}

cudaStream_t copyStream() {
  if (!gCopyStream) CR_CUDA_CHECK(cudaStreamCreateWithFlags(&gCopyStream, cudaStreamNonBlocking));
  return gCopyStream;
}

}  // namespace

void uploadFromHost(Tensor& dst, const Tensor& src) {
  refuseDuringCapture("a copy from host memory", "copy the inputs into the graph's input tensors before replay()");
  size_t bytes = dst.nbytes();
  if (bytes == 0) return;
  cudaStream_t main = stream();
  std::lock_guard<std::mutex> lock(gMutex);
  cudaStream_t side = copyStream();
  Slot& s = takeSlot(slotSize(bytes));
  std::memcpy(s.host, src.storage->data, bytes);
  CR_CUDA_CHECK(cudaMemcpyAsync(s.device, s.host, bytes, cudaMemcpyHostToDevice, side));
  CR_CUDA_CHECK(cudaEventRecord(s.copied, side));
  CR_CUDA_CHECK(cudaStreamWaitEvent(main, s.copied, 0));
  CR_CUDA_CHECK(cudaMemcpyAsync(dst.storage->data, s.device, bytes, cudaMemcpyDeviceToDevice, main));
  CR_CUDA_CHECK(cudaEventRecord(s.consumed, main));
  s.used = true;
}

void releaseUploadBuffers() {
  std::lock_guard<std::mutex> lock(gMutex);
  for (Slot& s : gSlots) freeSlot(s);
  gSlots.clear();
}

}  // namespace cr::cuda
