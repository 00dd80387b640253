// The loss scaler's ops' contract, the same on every device (cpu/amp.cc and cuda/kernels/amp.cu):
// its state tensors and their checks.
#pragma once
#include "../core/tensor.h"

namespace cr {

// The loss scaler's state in one-element tensors on the gradients' device, so that a step reads
// nothing back (and can be captured in a CUDA graph): the scale (float32), the growth tracker,
// the non-finite flag and the count of skipped steps (int32).
struct ScalerState {
  Tensor* scale;
  Tensor* growthTracker;
  Tensor* found;
  Tensor* skipped;
};
void checkScalerState(const char* op, const ScalerState& s, Device device);

}  // namespace cr
