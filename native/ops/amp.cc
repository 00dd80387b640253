#include "amp.h"

#include "../core/error.h"

namespace cr {

void checkScalerState(const char* op, const ScalerState& s, Device device) {
  auto check = [&](const Tensor* t, const char* what, DType dtype) {
    CR_CHECK_TYPE(t != nullptr, op, ": ", what, " is missing");
    CR_CHECK_TYPE(t->device == device, op, ": ", what, " must be on the gradients' device");
    CR_CHECK_TYPE(t->dtype == dtype, op, ": ", what, " must be ", dtypeName(dtype), ", got ", dtypeName(t->dtype));
    CR_CHECK_RANGE(t->numel() == 1, op, ": ", what, " must hold one element, got ", t->numel());
  };
  check(s.scale, "scale", DType::Float32);
  check(s.growthTracker, "growthTracker", DType::Int32);
  check(s.found, "found", DType::Int32);
  check(s.skipped, "skipped", DType::Int32);
}

}  // namespace cr
