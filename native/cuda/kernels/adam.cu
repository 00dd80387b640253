// The Adam / AdamW update on the GPU, the twin of native/cpu/adam.cc, one launch per parameter.
// Products and sums use the _rn intrinsics so that nothing is fused into an FMA: each step is
// rounded as the CPU rounds it (sqrtf and the division are IEEE-rounded in CUDA by default).
#include <cmath>

#include "../ops.h"
#include "common.cuh"

namespace cr::cuda {
namespace {

struct AdamScalars {
  float b1, b2, oneMinusB1, oneMinusB2, eps, wd, decay, stepSize, correction2Sqrt;
  bool decoupled;
  const int* skip;  // no update when set and nonzero (AdamOptions::skipIfNonzero)
};

__global__ void adamKernel(float* p, const float* g, float* m, float* v, int64_t n, AdamScalars s) {
  if (s.skip && *s.skip != 0) return;
  CR_GRID_STRIDE(i, n) {
    float gi = g[i], pi = p[i];
    if (s.decoupled) pi = __fmul_rn(pi, s.decay);
    else gi = __fadd_rn(gi, __fmul_rn(s.wd, pi));
    float mi = __fadd_rn(__fmul_rn(s.b1, m[i]), __fmul_rn(s.oneMinusB1, gi));
    float vi = __fadd_rn(__fmul_rn(s.b2, v[i]), __fmul_rn(__fmul_rn(s.oneMinusB2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.correction2Sqrt), s.eps);
    p[i] = __fsub_rn(pi, __fmul_rn(s.stepSize, __fdiv_rn(mi, denom)));
  }
}

}  // namespace

void adamStep(Tensor& param, const Tensor& grad, Tensor& expAvg, Tensor& expAvgSq, const AdamOptions& o) {
  checkAdamStep(param, grad, expAvg, expAvgSq, o, Device::CUDA);
  int64_t n = param.numel();
  if (n == 0) return;
  double step = static_cast<double>(o.step);
  AdamScalars s{static_cast<float>(o.beta1), static_cast<float>(o.beta2), static_cast<float>(1 - o.beta1),
                static_cast<float>(1 - o.beta2), static_cast<float>(o.eps), static_cast<float>(o.weightDecay),
                static_cast<float>(1 - o.lr * o.weightDecay),
                static_cast<float>(o.lr / (1 - std::pow(o.beta1, step))),
                static_cast<float>(std::sqrt(1 - std::pow(o.beta2, step))), o.decoupled,
                o.skipIfNonzero ? o.skipIfNonzero->data<int32_t>() : nullptr};
  adamKernel<<<blocksFor(n), kThreads, 0, stream()>>>(param.f32(), grad.f32(), expAvg.f32(), expAvgSq.f32(), n, s);
  CR_CUDA_CHECK_LAUNCH("adamKernel");
}

}  // namespace cr::cuda
