// Back-to-back parallelFor jobs of alternating small and larger chunk counts: the pattern (many
// short jobs, as im2col per image at batch 1 makes) under which a worker waking late could join
// a finished job and run a chunk of the next one twice, so that the caller waited forever.
// Built and run by test/parallel.test.ts; prints "ok <visits>" or the first miscount, exit 1.
#include <atomic>
#include <cstdio>

#include "core/parallel.h"

int main() {
  std::atomic<long> visits{0};
  long expected = 0;
  for (long it = 0; it < 1000000; ++it) {
    const int64_t n = (it % 2) ? 1 + it % 3 : 8 + it % 5;
    cr::parallelFor(0, n, 1, [&](int64_t b, int64_t e) { visits += e - b; });
    expected += n;
    if (visits != expected) {
      std::printf("miscount at job %ld: %ld chunk items run, %ld expected\n", it, visits.load(), expected);
      return 1;
    }
  }
  std::printf("ok %ld\n", expected);
  return 0;
}
