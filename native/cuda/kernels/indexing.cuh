// Index helpers of the element-wise, reduction and copy kernels. Shapes are logical (N, C, H, W
// for 4-D tensors); storageStrides gives where each logical dimension steps in memory, so a
// channelsLast tensor is read in place. A StridedWalk visits an index space in row-major order
// and yields the matching element offset in each of K tensors (stride 0 = broadcast).
#pragma once
#include <array>
#include <vector>

#include "common.cuh"

namespace cr::cuda {

constexpr int kMaxDims = 8;

// Loop unrolling in device code (the host compiler does not know the pragma).
#ifdef __CUDA_ARCH__
#define CR_UNROLL _Pragma("unroll")
#else
#define CR_UNROLL
#endif

// Element strides of each logical dimension of a tensor stored in `format`.
inline std::vector<int64_t> storageStrides(const Shape& shape, MemoryFormat format) {
  int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> strides(rank);
  if (format == MemoryFormat::ChannelsLast && rank == 4) {  // stored (N, H, W, C)
    strides[1] = 1;
    strides[3] = shape[1];
    strides[2] = shape[3] * shape[1];
    strides[0] = shape[2] * shape[3] * shape[1];
    return strides;
  }
  for (int64_t d = rank - 1, s = 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

inline std::vector<int64_t> storageStrides(const Tensor& t) { return storageStrides(t.shape, t.format); }

// Strides of `shape` as seen from the broadcast shape `out` (right-aligned; 0 on broadcast dims).
inline std::vector<int64_t> broadcastStrides(const Shape& shape, const std::vector<int64_t>& strides,
                                             const Shape& out) {
  std::vector<int64_t> result(out.size(), 0);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1, j = static_cast<int64_t>(out.size()) - 1; i >= 0;
       --i, --j)
    result[j] = shape[i] == 1 ? 0 : strides[i];
  return result;
}

template <int K>
struct StridedWalk {
  int rank = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[K][kMaxDims] = {};

  // Offsets in the K tensors of the element at row-major index i of `sizes`. Index is the type
  // of the division (32-bit when the walk has fewer than 2^32 elements).
  template <typename Index>
  __host__ __device__ void offsets(Index i, int64_t (&off)[K]) const {
    CR_UNROLL
    for (int k = 0; k < K; ++k) off[k] = 0;
    CR_UNROLL
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < rank) {
        Index size = static_cast<Index>(sizes[d]);
        Index coord = i % size;
        i /= size;
        CR_UNROLL
        for (int k = 0; k < K; ++k) off[k] += static_cast<int64_t>(coord) * strides[k][d];
      }
    }
  }
};

// A walk over `sizes` (every size > 0) with per-tensor strides: size-1 dimensions are dropped and
// neighbours that every tensor steps through as one dimension are merged. Throws when more than
// kMaxDims dimensions remain.
template <int K>
StridedWalk<K> makeWalk(const char* op, const Shape& sizes, const std::array<std::vector<int64_t>, K>& strides) {
  std::vector<int64_t> mergedSizes;
  std::vector<std::array<int64_t, K>> mergedStrides;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !mergedSizes.empty();
    for (int k = 0; k < K && merge; ++k) merge = mergedStrides.back()[k] == strides[k][d] * sizes[d];
    if (merge) {
      mergedSizes.back() *= sizes[d];
      for (int k = 0; k < K; ++k) mergedStrides.back()[k] = strides[k][d];
    } else {
      mergedSizes.push_back(sizes[d]);
      std::array<int64_t, K> s;
      for (int k = 0; k < K; ++k) s[k] = strides[k][d];
      mergedStrides.push_back(s);
    }
  }
  CR_CHECK(mergedSizes.size() <= static_cast<size_t>(kMaxDims), op, ": the GPU kernels handle at most ", kMaxDims,
           " dimensions after merging, got shape ", shapeString(sizes));
  StridedWalk<K> walk;
  walk.rank = static_cast<int>(mergedSizes.size());
  for (int d = 0; d < walk.rank; ++d) {
    walk.sizes[d] = mergedSizes[d];
    for (int k = 0; k < K; ++k) walk.strides[k][d] = mergedStrides[d][k];
  }
  return walk;
}

// The walk of a binary op on same-shape tensors: row-major over a's storage order, so that the
// output index (a's format) and a's offset are the walk index; offsets (a, b), b read in place.
inline StridedWalk<2> sameShapeWalk(const char* op, const Tensor& a, const Tensor& b) {
  std::vector<int64_t> sa = storageStrides(a), sb = storageStrides(b);
  if (a.format != MemoryFormat::ChannelsLast || a.dim() != 4) return makeWalk<2>(op, a.shape, {sa, sb});
  const int order[4] = {0, 2, 3, 1};  // (N, H, W, C)
  Shape sizes(4);
  std::vector<int64_t> stridesA(4), stridesB(4);
  for (int k = 0; k < 4; ++k) {
    sizes[k] = a.shape[order[k]];
    stridesA[k] = sa[order[k]];
    stridesB[k] = sb[order[k]];
  }
  return makeWalk<2>(op, sizes, {stridesA, stridesB});
}

// The walk of a broadcasting binary op: row-major over the (contiguous) result shape, offsets
// (a, b) with stride 0 on the dimensions each one is broadcast along.
inline StridedWalk<2> broadcastWalk(const char* op, const Tensor& a, const Tensor& b, const Shape& shape) {
  return makeWalk<2>(op, shape,
                     {broadcastStrides(a.shape, storageStrides(a), shape), broadcastStrides(b.shape, storageStrides(b), shape)});
}

// True when 32-bit division can index n elements.
inline bool fitsIndex32(int64_t n) { return n <= static_cast<int64_t>(UINT32_MAX); }

}  // namespace cr::cuda
