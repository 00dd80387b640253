// Block-wide reductions for 1-D blocks whose size is a power of two: a fixed tree order, so a
// result does not depend on timing. Every thread of the block must call them and gets the result.
#pragma once
#include "common.cuh"

namespace cr::cuda {

// scratch: blockDim.x values of shared memory.
template <typename T, typename Combine>
__device__ T blockReduce(T v, T* scratch, Combine combine) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) scratch[threadIdx.x] = combine(scratch[threadIdx.x], scratch[threadIdx.x + half]);
    __syncthreads();
  }
  T result = scratch[0];
  __syncthreads();  // scratch may be reused right after
  return result;
}

struct SumOf {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOf {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

}  // namespace cr::cuda
