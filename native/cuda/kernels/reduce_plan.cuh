// How reduce.cu walks a sum: output o and reduced index r read the input element at
// kept.offsets(o) + reduced.offsets(r) (logical dimensions, either memory format), and which
// kernel runs with how many splits of the reduced indices. Host code; the walks go to the kernels.
#pragma once
#include <algorithm>
#include <utility>

#include "indexing.cuh"

namespace cr::cuda {

constexpr int kColumnOutputs = 32, kColumnLanes = 8;

struct ReducePlan {
  StridedWalk<1> kept, reduced;
  int64_t outCount = 0, reducedCount = 0;
  bool rows = false;  // reduceRowsKernel (one block per output) or reduceColumnsKernel (32 outputs a block)
  int splits = 1;     // blocks sharing one output's reduced indices
  int64_t chunk = 0;  // reduced indices per split
};

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Kept dimensions in logical order (the output is row-major over them); reduced ones by
// decreasing stride, so that the innermost reduced index steps through memory most finely.
// Every size must be > 0.
inline ReducePlan planReduce(const char* op, const Shape& shape, MemoryFormat format, const std::vector<bool>& reduced) {
  std::vector<int64_t> strides = storageStrides(shape, format);
  Shape keptSizes, reducedSizes;
  std::vector<int64_t> keptStrides, reducedStrides;
  std::vector<std::pair<int64_t, int64_t>> reducedDims;  // (stride, size)
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!reduced[i]) {
      keptSizes.push_back(shape[i]);
      keptStrides.push_back(strides[i]);
    } else {
      reducedDims.push_back({strides[i], shape[i]});
    }
  }
  std::stable_sort(reducedDims.begin(), reducedDims.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [stride, size] : reducedDims) {
    reducedSizes.push_back(size);
    reducedStrides.push_back(stride);
  }
  ReducePlan plan;
  plan.kept = makeWalk<1>(op, keptSizes, {keptStrides});
  plan.reduced = makeWalk<1>(op, reducedSizes, {reducedStrides});
  plan.outCount = numelOf(keptSizes);
  plan.reducedCount = numelOf(reducedSizes);
  // Rows when the reduced indices are long and contiguous in memory; otherwise columns, which
  // read coalesced when neighbouring outputs are neighbours in memory. Splits give about 2048
  // blocks where the reduction is long enough.
  bool reducedInnermost = plan.reduced.rank > 0 && plan.reduced.strides[0][plan.reduced.rank - 1] == 1;
  plan.rows = reducedInnermost && plan.reducedCount >= 128;
  int64_t blocksPerSplit = plan.rows ? plan.outCount : ceilDiv(plan.outCount, kColumnOutputs);
  int64_t perSplit = plan.rows ? 4096 : 64;
  int64_t wanted = std::min(ceilDiv(plan.reducedCount, perSplit), ceilDiv(2048, blocksPerSplit));
  int64_t splits = std::clamp<int64_t>(wanted, 1, 65535);
  plan.chunk = ceilDiv(plan.reducedCount, splits);
  plan.splits = static_cast<int>(ceilDiv(plan.reducedCount, plan.chunk));  // no empty split
  return plan;
}

}  // namespace cr::cuda
