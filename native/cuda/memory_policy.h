// Two memory policies of the CUDA part as pure functions, so that they are tested on machines
// without a GPU (test/native/memory_policy_test.cc): which staging slot an upload takes
// (upload.cu) and which free list a freed device block joins (allocator.cu). Host code only; no
// CUDA headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cr::cuda {

struct SlotChoice {
  enum Kind {
    Reuse,       // slot `index` has the size and is idle
    Wait,        // at the cap: slot `index` has the size; wait until it is idle, then reuse it
    Replace,     // at the cap, none has the size: free slot `index` (waiting if busy), then add one
    Add,         // below the cap: add a slot of the size
  } kind;
  size_t index = 0;
};

// sizes[i]: slot i's bytes; idle(i): whether slot i's last copy is done. Never leads to more than
// `cap` slots: below it a slot is added, at it one is reused, waited for or replaced (an idle one
// of another size first, else the first).
template <typename Idle>
SlotChoice chooseSlot(const std::vector<size_t>& sizes, size_t size, size_t cap, Idle&& idle) {
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] == size && idle(i)) return {SlotChoice::Reuse, i};
  if (sizes.size() < cap) return {SlotChoice::Add, sizes.size()};
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] == size) return {SlotChoice::Wait, i};
  for (size_t i = 0; i < sizes.size(); ++i)
    if (idle(i)) return {SlotChoice::Replace, i};
  return {SlotChoice::Replace, 0};
}

// The free list a freed device block joins (allocator.cu): its own pool while that pool is live
// (a CUDA graph still uses it, even while another graph is captured), else the pool being
// captured (`active`; the capture may have used the block), else the general cache (0).
inline uint64_t poolOnFree(uint64_t blockPool, bool blockPoolLive, uint64_t active) {
  return blockPool != 0 && blockPoolLive ? blockPool : active;
}

}  // namespace cr::cuda
