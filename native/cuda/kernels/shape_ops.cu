// Copies that move elements between float32 GPU tensors, the twins of native/cpu/shape_ops.cc:
// concat, narrow and the option-A shortcut with its gradient. Every op is one strided copy: a
// walk over the logical elements moved, with the source and destination strides of the two
// tensors' storage, so either memory format is read and written in place. Result formats follow
// the CPU ops.
#include "../../ops/shape_ops.h"
#include "../ops.h"
#include "copy_plans.cuh"

namespace cr::cuda {
namespace {

// dst[offDst(i)] = src[offSrc(i)] for each row-major index i of the walk (src and dst already
// point at the plan's bases).
template <typename Index>
__global__ void stridedCopyKernel(const float* src, float* dst, int64_t n, StridedWalk<2> walk) {
  CR_GRID_STRIDE(i, n) {
    int64_t off[2];
    walk.offsets(static_cast<Index>(i), off);
    dst[off[1]] = src[off[0]];
  }
}

void stridedCopy(const char* op, const float* src, float* dst, const CopyPlan& plan) {
  int64_t n = numelOf(plan.sizes);
  if (n == 0) return;
  StridedWalk<2> walk = makeWalk<2>(op, plan.sizes, {plan.srcStrides, plan.dstStrides});
  src += plan.srcBase;
  dst += plan.dstBase;
  if (fitsIndex32(n)) stridedCopyKernel<uint32_t><<<blocksFor(n), kThreads, 0, stream()>>>(src, dst, n, walk);
  else stridedCopyKernel<int64_t><<<blocksFor(n), kThreads, 0, stream()>>>(src, dst, n, walk);
  CR_CUDA_CHECK_LAUNCH("stridedCopyKernel");
}

}  // namespace

Tensor concat(const std::vector<Tensor>& parts, int64_t dimIn) {
  int64_t dim = dimIn;
  const Shape outShape = concatShape(parts, dim, Device::CUDA);
  // The result takes the first tensor's memory format.
  Tensor out = cuda::empty(outShape, DType::Float32, parts[0].format);
  int64_t offset = 0;  // along dim
  for (const Tensor& part : parts) {
    stridedCopy("concat", part.f32(), out.f32(), concatPartPlan(part, out, dim, offset));
    offset += part.shape[dim];
  }
  return out;
}

Tensor narrow(const Tensor& x, int64_t dimIn, int64_t start, int64_t length) {
  int64_t dim = narrowDim(x, dimIn, start, length, Device::CUDA);
  Shape outShape = x.shape;
  outShape[dim] = length;
  Tensor out = cuda::empty(outShape, DType::Float32, x.format);
  stridedCopy("narrow", x.f32(), out.f32(), narrowPlan(x, out, dim, start));
  return out;
}

Tensor shortcutA(const Tensor& x, int64_t outChannels, int64_t stride) {
  const ShortcutAShape g = shortcutAShape(x, outChannels, stride, Device::CUDA);
  Tensor out = cuda::zeros({g.n, outChannels, g.ho, g.wo}, DType::Float32, x.format);
  stridedCopy("shortcutA", x.f32(), out.f32(), shortcutAPlan(x, out, stride, g.before));
  return out;
}

Tensor shortcutABackward(const Tensor& dy, const Shape& xShape, int64_t stride) {
  const ShortcutAShape g = shortcutABackwardShape(dy, xShape, stride, Device::CUDA);
  // The result takes dy's memory format; positions the forward pass skipped get zero.
  Tensor dx = cuda::zeros(xShape, DType::Float32, dy.format);
  stridedCopy("shortcutABackward", dy.f32(), dx.f32(), shortcutABackwardPlan(dy, dx, stride, g.before));
  return dx;
}

}  // namespace cr::cuda
