// A small fixed thread pool that uses every core. parallelFor splits [begin, end)
// into contiguous chunks of at least `grain` items; the calling thread takes part.
// Nested calls (a parallelFor inside a worker) run serially, so there is never
// oversubscription.
#pragma once
#include <cstdint>
#include <functional>

namespace cr {

int numThreads();
// Sets the number of threads used from now on (1 .. hardware threads); returns the value in force.
int setNumThreads(int n);
bool inParallelRegion();

void parallelForImpl(int64_t begin, int64_t end, int64_t grain,
                     const std::function<void(int64_t, int64_t)>& fn);

// fn(chunkBegin, chunkEnd) is called for disjoint chunks covering [begin, end).
template <typename F>
void parallelFor(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  if (end <= begin) return;
  if (grain < 1) grain = 1;
  if (end - begin <= grain || numThreads() == 1 || inParallelRegion()) {
    fn(begin, end);
    return;
  }
  parallelForImpl(begin, end, grain, fn);
}

}  // namespace cr
