#include "sgd.h"

#include "../core/error.h"
#include "../core/parallel.h"

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

void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o) {
  checkSgdStep(param, grad, momentumBuffer, o, Device::CPU);
  if (o.skipIfNonzero && o.skipIfNonzero->data<int32_t>()[0] != 0) return;
  float lr = o.lrTensor ? o.lrTensor->f32()[0] : static_cast<float>(o.lr), mu = static_cast<float>(o.momentum);
  float damp = 1.f - static_cast<float>(o.dampening), wd = static_cast<float>(o.weightDecay);
  float* p = param.f32();
  const float* g = grad.f32();
  float* buf = o.momentum != 0 ? momentumBuffer->f32() : nullptr;
  parallelFor(0, param.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float d = g[i] + wd * p[i];
      if (buf) {
        buf[i] = o.firstStep ? d : mu * buf[i] + damp * d;
        d = o.nesterov ? d + mu * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  });
}

void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o) {
  CR_CHECK_RANGE(grads.size() == params.size() && (buffers.empty() || buffers.size() == params.size()),
                 "sgdStepMulti: params, grads and buffers must have one entry per parameter");
  for (size_t i = 0; i < params.size(); ++i) sgdStep(*params[i], *grads[i], buffers.empty() ? nullptr : buffers[i], o);
}

}  // namespace cr
