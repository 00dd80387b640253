// Counter-based random fills on the GPU, the twins of native/cpu/random.cc: element i depends
// only on (seed, i) through the same splitmix64 hash and the same double arithmetic (the _rn
// intrinsics keep sums and products from being fused into FMAs), so a seed gives the same
// tensor on both devices.
#include "../graph.h"
#include "../ops.h"
#include "common.cuh"

namespace cr::cuda {
namespace {

__device__ inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1): 53 random bits, never exactly 0.
__device__ inline double uniformAt(uint64_t seed, uint64_t i) {
  uint64_t bits = splitmix64(seed ^ splitmix64(i)) >> 11;
  return __dmul_rn(__dadd_rn(static_cast<double>(bits), 0.5), 1.0 / 9007199254740992.0);
}

__global__ void uniformKernel(float* out, int64_t n, uint64_t seed, double low, double high) {
  CR_GRID_STRIDE(i, n) {
    double u = uniformAt(seed, static_cast<uint64_t>(i));
    out[i] = static_cast<float>(__dadd_rn(low, __dmul_rn(__dsub_rn(high, low), u)));
  }
}

// Box-Muller on the pair (2 * (i / 2), +1): cos for even i, sin for odd i.
__global__ void normalKernel(float* out, int64_t n, uint64_t seed, double mean, double stddev) {
  constexpr double kTwoPi = 2.0 * 3.14159265358979323846;  // 2.0 * M_PI, as the CPU computes it
  CR_GRID_STRIDE(i, n) {
    uint64_t pair = static_cast<uint64_t>(i) / 2;
    double r = sqrt(__dmul_rn(-2.0, log(uniformAt(seed, 2 * pair))));
    double theta = __dmul_rn(kTwoPi, uniformAt(seed, 2 * pair + 1));
    double z = (i % 2 == 0) ? __dmul_rn(r, cos(theta)) : __dmul_rn(r, sin(theta));
    out[i] = static_cast<float>(__dadd_rn(mean, __dmul_rn(stddev, z)));
  }
}

}  // namespace

Tensor randomUniform(const Shape& shape, uint64_t seed, double low, double high) {
  refuseDuringCapture("randomUniform", "a replay would repeat the same numbers; draw them outside the graph");
  Tensor out = cuda::empty(shape);
  int64_t n = out.numel();
  if (n == 0) return out;
  uniformKernel<<<blocksFor(n), kThreads, 0, stream()>>>(out.f32(), n, seed, low, high);
  CR_CUDA_CHECK_LAUNCH("uniformKernel");
  return out;
}

Tensor randomNormal(const Shape& shape, uint64_t seed, double mean, double stddev) {
  refuseDuringCapture("randomNormal", "a replay would repeat the same numbers; draw them outside the graph");
  Tensor out = cuda::empty(shape);
  int64_t n = out.numel();
  if (n == 0) return out;
  normalKernel<<<blocksFor(n), kThreads, 0, stream()>>>(out.f32(), n, seed, mean, stddev);
  CR_CUDA_CHECK_LAUNCH("normalKernel");
  return out;
}

}  // namespace cr::cuda
