#include "adam.h"

#include <cmath>
#include <utility>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {

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
