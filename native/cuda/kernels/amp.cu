// Dynamic loss scaling on the GPU: every gradient multiplied by 1 / scale in place, and one
// device flag set when any element is not finite. The flag is read back once per call (the
// caller skips the optimizer step on it).
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

}  // namespace cr::cuda
