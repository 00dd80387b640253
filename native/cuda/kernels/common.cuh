// Shared by the CUDA kernels: launch geometry and index helpers.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../runtime.h"

namespace cr::cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements.
inline unsigned int blocksFor(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535LL * 8)));
}

#define CR_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Offset of logical element (n, c, h, w) in a 4-D tensor stored NCHW or NHWC.
__host__ __device__ inline int64_t offset4(int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H,
                                           int64_t W, bool channelsLast) {
  return channelsLast ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

}  // namespace cr::cuda
