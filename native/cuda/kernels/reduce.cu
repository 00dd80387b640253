// Sums over dimensions of float32 GPU tensors, the twins of reduceSum and sumTo in
// native/cpu/elementwise.cc: double accumulation, a contiguous float32 result. The input is read
// in place in either memory format. Long reductions are split over several blocks whose double
// partial sums are added in a fixed order, so results are deterministic.
#include <algorithm>

#include "../ops.h"
#include "block_reduce.cuh"
#include "reduce_plan.cuh"
#include "tensor_checks.cuh"

namespace cr::cuda {
namespace {

template <typename Index>
__device__ inline int64_t offsetOf(const StridedWalk<1>& walk, int64_t i) {
  int64_t off[1];
  walk.offsets(static_cast<Index>(i), off);
  return off[0];
}

// One block per (output, split); its threads step through the reduced indices (the innermost
// reduced dimension has stride 1, so neighbouring threads read neighbouring elements).
template <typename Index>
__global__ void reduceRowsKernel(const float* in, float* out, double* partial, ReducePlan plan) {
  __shared__ double scratch[kThreads];
  int64_t begin = blockIdx.y * plan.chunk, end = min(plan.reducedCount, begin + plan.chunk);
  for (int64_t o = blockIdx.x; o < plan.outCount; o += gridDim.x) {
    const float* base = in + offsetOf<Index>(plan.kept, o);
    double acc = 0;
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) acc += base[offsetOf<Index>(plan.reduced, r)];
    acc = blockReduce(acc, scratch, SumOf{});
    if (threadIdx.x == 0) {
      if (plan.splits == 1) out[o] = static_cast<float>(acc);
      else partial[blockIdx.y * plan.outCount + o] = acc;
    }
  }
}

// Blocks of (32 outputs) x (8 lanes over the reduced indices) per split: for outputs that are
// neighbours in memory, neighbouring threads read neighbouring elements.
template <typename Index>
__global__ void reduceColumnsKernel(const float* in, float* out, double* partial, ReducePlan plan) {
  __shared__ double sums[kColumnLanes][kColumnOutputs + 1];
  int64_t o = blockIdx.x * static_cast<int64_t>(kColumnOutputs) + threadIdx.x;
  int64_t begin = blockIdx.y * plan.chunk, end = min(plan.reducedCount, begin + plan.chunk);
  double acc = 0;
  if (o < plan.outCount) {
    const float* base = in + offsetOf<Index>(plan.kept, o);
    for (int64_t r = begin + threadIdx.y; r < end; r += kColumnLanes) acc += base[offsetOf<Index>(plan.reduced, r)];
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && o < plan.outCount) {
    double total = 0;
    for (int lane = 0; lane < kColumnLanes; ++lane) total += sums[lane][threadIdx.x];
    if (plan.splits == 1) out[o] = static_cast<float>(total);
    else partial[blockIdx.y * plan.outCount + o] = total;
  }
}

// out[o] = sum over splits s, in order, of partial[s * outCount + o].
__global__ void finishSplitsKernel(const double* partial, float* out, int64_t outCount, int splits) {
  CR_GRID_STRIDE(o, outCount) {
    double total = 0;
    for (int s = 0; s < splits; ++s) total += partial[s * outCount + o];
    out[o] = static_cast<float>(total);
  }
}

void launchReduce(const float* in, float* out, const ReducePlan& plan) {
  int64_t o = plan.outCount, r = plan.reducedCount;
  Tensor scratch;  // double partial sums, (splits, outCount)
  double* partial = nullptr;
  if (plan.splits > 1) {
    scratch = cuda::empty({plan.splits * o}, DType::Int64);
    partial = reinterpret_cast<double*>(scratch.storage->data);
  }
  bool narrow = fitsIndex32(std::max(o, r));
  if (plan.rows) {
    dim3 grid(static_cast<unsigned int>(std::min<int64_t>(o, 1 << 30)), plan.splits);
    if (narrow) reduceRowsKernel<uint32_t><<<grid, kThreads, 0, stream()>>>(in, out, partial, plan);
    else reduceRowsKernel<int64_t><<<grid, kThreads, 0, stream()>>>(in, out, partial, plan);
    CR_CUDA_CHECK_LAUNCH("reduceRowsKernel");
  } else {
    dim3 grid(static_cast<unsigned int>(ceilDiv(o, kColumnOutputs)), plan.splits), block(kColumnOutputs, kColumnLanes);
    if (narrow) reduceColumnsKernel<uint32_t><<<grid, block, 0, stream()>>>(in, out, partial, plan);
    else reduceColumnsKernel<int64_t><<<grid, block, 0, stream()>>>(in, out, partial, plan);
    CR_CUDA_CHECK_LAUNCH("reduceColumnsKernel");
  }
  if (plan.splits > 1) {
    finishSplitsKernel<<<blocksFor(o), kThreads, 0, stream()>>>(partial, out, o, plan.splits);
    CR_CUDA_CHECK_LAUNCH("finishSplitsKernel");
  }
}

}  // namespace

Tensor sumTo(const Tensor& x, const Shape& shape) {
  expectFloat32Gpu("sumTo", "input", x);
  if (x.shape == shape) return x;
  Tensor summed = cuda::reduceSum(x, sumToDims(x.shape, shape), true);
  return cr::view(summed, shape);
}

Tensor reduceSum(const Tensor& x, const std::vector<int64_t>& dimsIn, bool keepDim) {
  expectFloat32Gpu("sum", "input", x);
  const std::vector<bool> reduced = reducedDims(dimsIn, x.dim());
  Tensor out = cuda::empty(reducedShape(x.shape, reduced, keepDim));
  int64_t outCount = out.numel();
  if (outCount == 0) return out;
  if (numelOf(x.shape) == 0) {  // an empty sum (outCount > 0, so a reduced size is 0)
    CR_CUDA_CHECK(cudaMemsetAsync(out.storage->data, 0, out.nbytes(), stream()));
    return out;
  }
  ReducePlan plan = planReduce("sum", x.shape, x.format, reduced);
  launchReduce(x.f32(), out.f32(), plan);
  return out;
}

}  // namespace cr::cuda
