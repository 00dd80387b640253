#include "sgd.h"

#include "../core/error.h"

namespace cr {

void checkSgdStep(const Tensor& param, const Tensor& grad, const Tensor* momentumBuffer, const SgdOptions& o,
                  Device device) {
  expectFloat32On(device, "sgdStep", "param", param);
  expectFloat32On(device, "sgdStep", "grad", grad);
  expectShape("sgdStep", "grad", grad, param.shape);
  CR_CHECK_TYPE(grad.format == param.format, "sgdStep: grad and param must share a memory format");
  CR_CHECK_RANGE(o.momentum == 0 || momentumBuffer != nullptr, "sgdStep: momentum needs a momentum buffer");
  if (momentumBuffer) {
    expectFloat32On(device, "sgdStep", "momentumBuffer", *momentumBuffer);
    expectShape("sgdStep", "momentumBuffer", *momentumBuffer, param.shape);
    CR_CHECK_TYPE(momentumBuffer->format == param.format, "sgdStep: momentumBuffer and param must share a memory format");
  }
  auto scalar = [device](const Tensor* t, const char* what, DType dtype) {
    if (!t) return;
    CR_CHECK_TYPE(t->device == device, "sgdStep: ", what, " must be on the parameters' device");
    CR_CHECK_TYPE(t->dtype == dtype, "sgdStep: ", what, " must be ", dtypeName(dtype), ", got ", dtypeName(t->dtype));
    CR_CHECK_RANGE(t->numel() == 1, "sgdStep: ", what, " must hold one element, got ", t->numel());
  };
  scalar(o.lrTensor, "lrTensor", DType::Float32);
  scalar(o.skipIfNonzero, "skipIfNonzero", DType::Int32);
}

}  // namespace cr
