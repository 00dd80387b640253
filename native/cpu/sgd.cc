#include "sgd.h"

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {

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
