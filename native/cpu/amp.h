// The gradient side of dynamic loss scaling: multiply every gradient by 1 / scale in place and
// say whether any element was infinite or NaN (the step is then skipped and the scale lowered).
#pragma once
#include <vector>

#include "../core/tensor.h"
#include "../ops/amp.h"

namespace cr {

// grads: float32 tensors, each multiplied in place by invScale. Returns true when any element
// (before or after the multiplication) is not finite.
bool unscaleGrads(const std::vector<Tensor*>& grads, double invScale);

// grads *= 1 / scale in place (1 / scale rounded to float32); found = 1 when any element is not
// finite (found is never cleared here).
void unscaleGradsBy(const std::vector<Tensor*>& grads, const ScalerState& s);
// After a step: when found, scale *= backoff, tracker = 0, skipped += 1; otherwise when ++tracker
// reaches the interval, scale *= growth and tracker = 0. Then found = 0. (float32 arithmetic.)
void updateScaleState(const ScalerState& s, double growthFactor, double backoffFactor, int64_t growthInterval);

}  // namespace cr
