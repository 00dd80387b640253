#include "amp.h"

#include <atomic>
#include <cmath>

#include "../core/error.h"
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

void unscaleGradsBy(const std::vector<Tensor*>& grads, const ScalerState& s) {
  checkScalerState("unscaleGradsBy", s, Device::CPU);
  for (Tensor* t : grads) expectFloat32("unscaleGradsBy", "gradient", *t);
  if (unscaleGrads(grads, 1.0f / s.scale->f32()[0])) s.found->data<int32_t>()[0] = 1;
}

void updateScaleState(const ScalerState& s, double growthFactor, double backoffFactor, int64_t growthInterval) {
  checkScalerState("updateScaleState", s, Device::CPU);
  float& scale = s.scale->f32()[0];
  int32_t& tracker = s.growthTracker->data<int32_t>()[0];
  int32_t& found = s.found->data<int32_t>()[0];
  if (found != 0) {
    scale *= static_cast<float>(backoffFactor);
    tracker = 0;
    s.skipped->data<int32_t>()[0] += 1;
  } else if (++tracker >= growthInterval) {
    scale *= static_cast<float>(growthFactor);
    tracker = 0;
  }
  found = 0;
}

}  // namespace cr
