#include "amp.h"

#include <atomic>
#include <cmath>

#include "../core/parallel.h"

namespace cr {

bool unscaleGrads(const std::vector<Tensor*>& grads, double invScale) {
  const float s = static_cast<float>(invScale);
  std::atomic<bool> found{false};
  for (Tensor* t : grads) {
    expectFloat32("unscaleGrads", "gradient", *t);
    float* g = t->f32();
    parallelFor(0, t->numel(), 1 << 14, [&](int64_t b, int64_t e) {
      bool bad = false;
      for (int64_t i = b; i < e; ++i) {
        g[i] *= s;
        bad |= !std::isfinite(g[i]);
      }
      if (bad) found.store(true, std::memory_order_relaxed);
    });
  }
  return found.load();
}

}  // namespace cr
