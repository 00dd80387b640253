// The strided copies behind shape_ops.cu: for each op, the logical index space moved and where
// each of its elements lies in the source and the destination storage (offsets in elements, in
// either memory format). Host code; the copy itself is stridedCopyKernel.
#pragma once
#include "indexing.cuh"

namespace cr::cuda {

// dst[dstBase + dst offset] = src[srcBase + src offset] for every index of `sizes`.
struct CopyPlan {
  Shape sizes;
  std::vector<int64_t> srcStrides, dstStrides;
  int64_t srcBase = 0, dstBase = 0;
};

// part -> out[..., offset : offset + part.shape[dim], ...]
inline CopyPlan concatPartPlan(const Tensor& part, const Tensor& out, int64_t dim, int64_t offset) {
  std::vector<int64_t> dstStrides = storageStrides(out);
  return {part.shape, storageStrides(part), dstStrides, 0, offset * dstStrides[dim]};
}

// x[..., start : start + out.shape[dim], ...] -> out
inline CopyPlan narrowPlan(const Tensor& x, const Tensor& out, int64_t dim, int64_t start) {
  std::vector<int64_t> srcStrides = storageStrides(x);
  return {out.shape, srcStrides, storageStrides(out), start * srcStrides[dim], 0};
}

// out[:, before + ci, i, j] = x[:, ci, i * stride, j * stride] over (N, C, Ho, Wo)
inline CopyPlan shortcutAPlan(const Tensor& x, const Tensor& out, int64_t stride, int64_t before) {
  std::vector<int64_t> xs = storageStrides(x), os = storageStrides(out);
  return {{x.shape[0], x.shape[1], out.shape[2], out.shape[3]},
          {xs[0], xs[1], xs[2] * stride, xs[3] * stride},
          os,
          0,
          before * os[1]};
}

// dx[:, ci, i * stride, j * stride] = dy[:, before + ci, i, j] over (N, C, Ho, Wo)
inline CopyPlan shortcutABackwardPlan(const Tensor& dy, const Tensor& dx, int64_t stride, int64_t before) {
  std::vector<int64_t> gs = storageStrides(dy), xs = storageStrides(dx);
  return {{dx.shape[0], dx.shape[1], dy.shape[2], dy.shape[3]},
          gs,
          {xs[0], xs[1], xs[2] * stride, xs[3] * stride},
          before * gs[1],
          0};
}

}  // namespace cr::cuda
