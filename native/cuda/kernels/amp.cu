// Dynamic loss scaling on the GPU: every gradient multiplied by 1 / scale in place, and one
// device flag set when any element is not finite. unscaleGrads reads the flag back once per call
// (the caller skips the optimizer step on it); unscaleGradsBy and updateScaleState keep the whole
// scaler state on the device (the optimizer skips its step on the flag there).
#include <vector>

#include "../ops.h"
#include "common.cuh"

namespace cr::cuda {
namespace {

__global__ void unscaleKernel(float* g, int64_t n, float invScale, int* found) {
  bool bad = false;
  CR_GRID_STRIDE(i, n) {
    float v = g[i] * invScale;
    g[i] = v;
    bad |= !isfinite(v);
  }
  if (bad) *found = 1;  // benign race: every writer writes 1
}

// As unscaleKernel, with 1 / scale read from the device.
__global__ void unscaleByKernel(float* g, int64_t n, const float* scale, int* found) {
  const float invScale = 1.0f / *scale;
  bool bad = false;
  CR_GRID_STRIDE(i, n) {
    float v = g[i] * invScale;
    g[i] = v;
    bad |= !isfinite(v);
  }
  if (bad) *found = 1;
}

__global__ void updateScaleKernel(float* scale, int* tracker, int* found, int* skipped, float growth, float backoff,
                                  int64_t interval) {
  if (*found != 0) {
    *scale = *scale * backoff;
    *tracker = 0;
    *skipped += 1;
  } else if (++*tracker >= interval) {
    *scale = *scale * growth;
    *tracker = 0;
  }
  *found = 0;
}

}  // namespace

bool unscaleGrads(const std::vector<Tensor*>& grads, double invScale) {
  Tensor flag = cuda::zeros({1}, DType::Int32);
  int* found = flag.data<int>();
  for (Tensor* t : grads) {
    CR_CHECK_TYPE(t->device == Device::CUDA, "unscaleGrads: gradient must be on the GPU");
    CR_CHECK_TYPE(t->dtype == DType::Float32, "unscaleGrads: gradient must be float32, got ", dtypeName(t->dtype));
    int64_t n = t->numel();
    if (n == 0) continue;
    unscaleKernel<<<blocksFor(n), kThreads, 0, stream()>>>(t->f32(), n, static_cast<float>(invScale), found);
    CR_CUDA_CHECK_LAUNCH("unscaleKernel");
  }
  int host = 0;
  CR_CUDA_CHECK(cudaMemcpyAsync(&host, found, sizeof(int), cudaMemcpyDeviceToHost, stream()));
  CR_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return host != 0;
}

void unscaleGradsBy(const std::vector<Tensor*>& grads, const ScalerState& s) {
  checkScalerState("unscaleGradsBy", s, Device::CUDA);
  for (Tensor* t : grads) {
    CR_CHECK_TYPE(t->device == Device::CUDA, "unscaleGradsBy: gradient must be on the GPU");
    CR_CHECK_TYPE(t->dtype == DType::Float32, "unscaleGradsBy: gradient must be float32, got ", dtypeName(t->dtype));
  }
  for (Tensor* t : grads) {
    int64_t n = t->numel();
    if (n == 0) continue;
    unscaleByKernel<<<blocksFor(n), kThreads, 0, stream()>>>(t->f32(), n, s.scale->f32(), s.found->data<int>());
    CR_CUDA_CHECK_LAUNCH("unscaleByKernel");
  }
}

void updateScaleState(const ScalerState& s, double growthFactor, double backoffFactor, int64_t growthInterval) {
  checkScalerState("updateScaleState", s, Device::CUDA);
  updateScaleKernel<<<1, 1, 0, stream()>>>(s.scale->f32(), s.growthTracker->data<int>(), s.found->data<int>(),
                                           s.skipped->data<int>(), static_cast<float>(growthFactor),
                                           static_cast<float>(backoffFactor), growthInterval);
  CR_CUDA_CHECK_LAUNCH("updateScaleKernel");
}

}  // namespace cr::cuda
