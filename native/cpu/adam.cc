#include "adam.h"

#include <cmath>
#include <utility>

#include "../core/error.h"
#include "../core/parallel.h"

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

void adamStep(Tensor& param, const Tensor& grad, Tensor& expAvg, Tensor& expAvgSq, const AdamOptions& o) {
  checkAdamStep(param, grad, expAvg, expAvgSq, o, Device::CPU);
  if (o.skipIfNonzero && o.skipIfNonzero->data<int32_t>()[0] != 0) return;
  // The scalars are computed in double and rounded once, as PyTorch computes them in Python floats.
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const float oneMinusB1 = static_cast<float>(1 - o.beta1), oneMinusB2 = static_cast<float>(1 - o.beta2);
  const float eps = static_cast<float>(o.eps), wd = static_cast<float>(o.weightDecay);
  const float decay = static_cast<float>(1 - o.lr * o.weightDecay);
  const float stepSize = static_cast<float>(o.lr / (1 - std::pow(o.beta1, static_cast<double>(o.step))));
  const float correction2Sqrt = static_cast<float>(std::sqrt(1 - std::pow(o.beta2, static_cast<double>(o.step))));
  float* p = param.f32();
  const float* g = grad.f32();
  float *m = expAvg.f32(), *v = expAvgSq.f32();
  const bool decoupled = o.decoupled;
  parallelFor(0, param.numel(), 1 << 14, [=](int64_t b, int64_t e) {
    // The four buffers never overlap (restrict), so that the loop vectorises.
    float* __restrict pr = p;
    const float* __restrict gr = g;
    float* __restrict mr = m;
    float* __restrict vr = v;
    for (int64_t i = b; i < e; ++i) {
      float pi = pr[i], gi = gr[i];
      if (decoupled) pi *= decay;
      else gi += wd * pi;
      float mi = b1 * mr[i] + oneMinusB1 * gi;
      float vi = b2 * vr[i] + oneMinusB2 * gi * gi;
      mr[i] = mi;
      vr[i] = vi;
      float denom = std::sqrt(vi) / correction2Sqrt + eps;
      pr[i] = pi - stepSize * (mi / denom);
    }
  });
}

}  // namespace cr
