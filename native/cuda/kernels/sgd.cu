// The SGD update on the GPU, the twin of native/cpu/sgd.cc, for one parameter (sgdStep) or many
// in one launch (sgdStepMulti, sgd_multi.h). Products and sums use the _rn intrinsics so that
// nothing is fused into an FMA: each step is rounded as the CPU rounds it.
#include <algorithm>

#include "../ops.h"
#include "common.cuh"
#include "sgd_multi.h"

namespace cr::cuda {
namespace {

struct SgdScalars {
  float lr, mu, damp, wd;  // damp = 1 - dampening, in float as on the CPU
  bool nesterov, firstStep;
  const float* lrPtr;  // replaces lr when set (SgdOptions::lrTensor)
  const int* skip;     // no update when set and nonzero (SgdOptions::skipIfNonzero)
};

SgdScalars scalarsOf(const SgdOptions& o) {
  return {static_cast<float>(o.lr), static_cast<float>(o.momentum), 1.f - static_cast<float>(o.dampening),
          static_cast<float>(o.weightDecay), o.nesterov, o.firstStep,
          o.lrTensor ? o.lrTensor->f32() : nullptr, o.skipIfNonzero ? o.skipIfNonzero->data<int32_t>() : nullptr};
}

// The scalars as the update runs: false when the step is skipped.
__device__ inline bool resolve(SgdScalars& s) {
  if (s.skip && *s.skip != 0) return false;
  if (s.lrPtr) s.lr = *s.lrPtr;
  return true;
}

// buf is nullptr without momentum.
__device__ inline void sgdUpdate(float* p, const float* g, float* buf, int64_t i, const SgdScalars& s) {
  float d = __fadd_rn(g[i], __fmul_rn(s.wd, p[i]));
  if (buf) {
    float b = s.firstStep ? d : __fadd_rn(__fmul_rn(s.mu, buf[i]), __fmul_rn(s.damp, d));
    buf[i] = b;
    d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.mu, b)) : b;
  }
  p[i] = __fsub_rn(p[i], __fmul_rn(s.lr, d));
}

__global__ void sgdKernel(float* p, const float* g, float* buf, int64_t n, SgdScalars s) {
  if (!resolve(s)) return;
  CR_GRID_STRIDE(i, n) sgdUpdate(p, g, buf, i, s);
}

// Up to 64 tensors per launch, passed by value in the kernel's parameters (under 4 KB). Tensor t
// gets the blocks [firstBlock[t], firstBlock[t + 1]) of the grid.
constexpr int kTensorsPerLaunch = 64;
constexpr int64_t kMaxBlocksPerTensor = 512;

struct SgdTensor {
  float* param;
  const float* grad;
  float* buf;
  int64_t numel;
};

struct SgdBatch {
  SgdTensor tensors[kTensorsPerLaunch];
  int firstBlock[kTensorsPerLaunch + 1];
  int count;
};
static_assert(sizeof(SgdBatch) + sizeof(SgdScalars) < 4000, "kernel parameters must stay under 4 KB");

__global__ void sgdMultiKernel(SgdBatch batch, SgdScalars s) {
  if (!resolve(s)) return;
  int block = static_cast<int>(blockIdx.x);
  int lo = 0, hi = batch.count - 1;  // the tensor t with firstBlock[t] <= block < firstBlock[t + 1]
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (batch.firstBlock[mid] <= block) lo = mid;
    else hi = mid - 1;
  }
  const SgdTensor& t = batch.tensors[lo];
  int64_t blocks = batch.firstBlock[lo + 1] - batch.firstBlock[lo];
  int64_t step = blocks * blockDim.x;
  for (int64_t i = (block - batch.firstBlock[lo]) * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < t.numel;
       i += step)
    sgdUpdate(t.param, t.grad, t.buf, i, s);
}

void launchBatch(SgdBatch& batch, const SgdScalars& s) {
  if (batch.count == 0) return;
  sgdMultiKernel<<<static_cast<unsigned int>(batch.firstBlock[batch.count]), kThreads, 0, stream()>>>(batch, s);
  CR_CUDA_CHECK_LAUNCH("sgdMultiKernel");
  batch.count = 0;
  batch.firstBlock[0] = 0;
}

}  // namespace

void sgdStep(Tensor& param, const Tensor& grad, Tensor* momentumBuffer, const SgdOptions& o) {
  checkSgdStep(param, grad, momentumBuffer, o, Device::CUDA);
  int64_t n = param.numel();
  if (n == 0) return;
  float* buf = o.momentum != 0 ? momentumBuffer->f32() : nullptr;
  sgdKernel<<<blocksFor(n), kThreads, 0, stream()>>>(param.f32(), grad.f32(), buf, n, scalarsOf(o));
  CR_CUDA_CHECK_LAUNCH("sgdKernel");
}

void sgdStepMulti(std::vector<Tensor*> params, std::vector<const Tensor*> grads, std::vector<Tensor*> buffers,
                  const SgdOptions& o) {
  size_t count = params.size();
  CR_CHECK_RANGE(grads.size() == count, "sgdStepMulti: ", count, " params but ", grads.size(), " grads");
  CR_CHECK_RANGE(buffers.size() == count || (buffers.empty() && o.momentum == 0), "sgdStepMulti: ", count,
                 " params but ", buffers.size(), " momentum buffers");
  for (size_t i = 0; i < count; ++i) {
    CR_CHECK_TYPE(params[i] != nullptr && grads[i] != nullptr, "sgdStepMulti: param and grad ", i, " must be given");
    checkSgdStep(*params[i], *grads[i], buffers.empty() ? nullptr : buffers[i], o, Device::CUDA);
  }
  SgdScalars s = scalarsOf(o);
  SgdBatch batch{};
  batch.firstBlock[0] = 0;
  for (size_t i = 0; i < count; ++i) {
    int64_t n = params[i]->numel();
    if (n == 0) continue;
    int64_t blocks = std::min<int64_t>((n + kThreads * 4 - 1) / (kThreads * 4), kMaxBlocksPerTensor);
    SgdTensor& t = batch.tensors[batch.count];
    t.param = params[i]->f32();
    t.grad = grads[i]->f32();
    t.buf = o.momentum != 0 ? buffers[i]->f32() : nullptr;
    t.numel = n;
    batch.firstBlock[batch.count + 1] = batch.firstBlock[batch.count] + static_cast<int>(blocks);
    if (++batch.count == kTensorsPerLaunch) launchBatch(batch, s);
  }
  launchBatch(batch, s);
}

}  // namespace cr::cuda
