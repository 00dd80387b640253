#include "adam.h"

#include "../core/error.h"

namespace cr {

void checkAdamStep(const Tensor& param, const Tensor& grad, const Tensor& expAvg, const Tensor& expAvgSq,
                   const AdamOptions& o, Device device) {
  expectFloat32On(device, "adamStep", "param", param);
  for (auto [what, t] : {std::pair<const char*, const Tensor*>{"grad", &grad}, {"expAvg", &expAvg}, {"expAvgSq", &expAvgSq}}) {
    expectFloat32On(device, "adamStep", what, *t);
    expectShape("adamStep", what, *t, param.shape);
    CR_CHECK_TYPE(t->format == param.format, "adamStep: ", what, " and param must share a memory format");
  }
  CR_CHECK_RANGE(o.step >= 1, "adamStep: step must be >= 1, got ", o.step);
  CR_CHECK_RANGE(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "adamStep: betas must be in [0, 1)");
  if (o.skipIfNonzero) {
    CR_CHECK_TYPE(o.skipIfNonzero->device == device, "adamStep: skipIfNonzero must be on the parameters' device");
    CR_CHECK_TYPE(o.skipIfNonzero->dtype == DType::Int32, "adamStep: skipIfNonzero must be int32");
    CR_CHECK_RANGE(o.skipIfNonzero->numel() == 1, "adamStep: skipIfNonzero must hold one element");
  }
}

}  // namespace cr
