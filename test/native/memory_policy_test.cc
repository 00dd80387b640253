// The CUDA part's memory policies (native/cuda/memory_policy.h) on the CPU: the upload staging
// slots never exceed their cap, whatever sizes are asked for and whichever slots are busy, and a
// slot handed out has the size asked for; a freed block joins its own live pool, else the pool
// being captured, else the general cache. Built and run by test/memory_policy.test.ts; prints
// "ok <checks>" and exits 0, or names the first broken rule and exits 1.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "../../native/cuda/memory_policy.h"

using cr::cuda::chooseSlot;
using cr::cuda::poolOnFree;
using cr::cuda::SlotChoice;

namespace {
long checks = 0;
void expect(bool ok, const char* rule, long step) {
  ++checks;
  if (ok) return;
  std::printf("broken at step %ld: %s\n", step, rule);
  std::exit(1);
}
}  // namespace

int main() {
  constexpr size_t kCap = 16;
  std::mt19937 random(1234);
  const size_t sizeChoices[] = {4096, 8192, 1 << 20, 1280 << 10, 3 << 20, 12 << 20};
  std::vector<size_t> sizes;
  std::vector<bool> busy;
  bool sawWait = false, sawReplace = false, sawReuse = false;
  for (long step = 0; step < 200000; ++step) {
    // Some earlier copies finish: often in the first phase, rarely in the second (every slot
    // busy), with many sizes and then few.
    const long phase = step / 50000;
    for (size_t i = 0; i < busy.size(); ++i)
      if (random() % (phase % 2 == 0 ? 3 : 60) == 0) busy[i] = false;
    const size_t size = sizeChoices[random() % (phase < 2 ? 6 : 3)] * (1 + random() % 9);
    const SlotChoice c = chooseSlot(sizes, size, kCap, [&](size_t i) { return !busy[i]; });
    switch (c.kind) {
      case SlotChoice::Reuse:
        expect(c.index < sizes.size() && sizes[c.index] == size && !busy[c.index], "a reused slot is idle and of the size", step);
        sawReuse = true;
        break;
      case SlotChoice::Wait:
        expect(sizes.size() == kCap, "a slot is waited for only at the cap", step);
        expect(c.index < sizes.size() && sizes[c.index] == size, "a slot waited for has the size", step);
        sawWait = true;
        break;
      case SlotChoice::Replace:
        expect(sizes.size() == kCap, "a slot is replaced only at the cap", step);
        expect(c.index < sizes.size(), "the replaced slot exists", step);
        for (size_t s : sizes) expect(s != size, "no slot of the size exists when one is replaced", step);
        if (busy[c.index]) {
          for (size_t i = 0; i < busy.size(); ++i) expect(busy[i], "an idle slot is replaced before a busy one", step);
        }
        sizes.erase(sizes.begin() + static_cast<long>(c.index));
        busy.erase(busy.begin() + static_cast<long>(c.index));
        sizes.push_back(size);
        busy.push_back(false);
        sawReplace = true;
        break;
      case SlotChoice::Add:
        expect(sizes.size() < kCap, "a slot is added only below the cap", step);
        sizes.push_back(size);
        busy.push_back(false);
        break;
    }
    const size_t taken = c.kind == SlotChoice::Reuse || c.kind == SlotChoice::Wait ? c.index : sizes.size() - 1;
    expect(sizes.size() <= kCap, "never more slots than the cap", step);
    expect(sizes[taken] == size, "the slot taken has the size asked for", step);
    busy[taken] = true;  // its copy is queued
  }
  expect(sawReuse && sawWait && sawReplace, "every branch of the policy was taken", -1);

  // poolOnFree(block's pool, that pool is live, the pool being captured)
  expect(poolOnFree(0, false, 0) == 0, "a general block freed outside a capture: the cache", 0);
  expect(poolOnFree(0, false, 7) == 7, "a general block freed during a capture: the capture's pool", 0);
  expect(poolOnFree(3, true, 0) == 3, "a live pool's block freed outside a capture: its pool", 0);
  expect(poolOnFree(3, true, 7) == 3, "a live pool's block freed during another graph's capture: its own pool", 0);
  expect(poolOnFree(7, true, 7) == 7, "the capture's own block: its pool", 0);
  expect(poolOnFree(3, false, 0) == 0, "a retired pool's block outside a capture: the cache", 0);
  expect(poolOnFree(3, false, 7) == 7, "a retired pool's block during a capture: the capture's pool", 0);
  std::printf("ok %ld\n", checks);
  return 0;
}
