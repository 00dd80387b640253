// The choice of cuDNN convolution algorithms (forward, backward data, backward filter): for each
// configuration, cuDNN's benchmark (cudnnFind...AlgorithmEx) runs once and its fastest usable
// result is cached; when the benchmark cannot get its workspace, cuDNN's heuristics
// (cudnnGet...Algorithm_v7) choose instead. conv2d.cc builds the descriptors and runs the pass.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/tensor.h"
#include "../ops/conv2d.h"
#include "descriptors.h"

namespace cr::cuda {

// Only algorithms that cuDNN reports as deterministic (bitwise reproducible) when set; off by default.
void setDeterministic(bool deterministic);
bool deterministic();
// Forgets every cached choice (the next convolution of each configuration benchmarks again).
void clearConvAlgoCache();

enum class ConvPass : int32_t { Forward = 0, BackwardData = 1, BackwardFilter = 2 };

// Everything that decides which algorithm cuDNN can and should use for one pass.
struct ConvKey {
  ConvPass pass = ConvPass::Forward;
  int64_t x[4] = {0, 0, 0, 0};  // (N, C, H, W) of the input
  int64_t w[4] = {0, 0, 0, 0};  // (O, C / groups, kH, kW)
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  DType dtype = DType::Float32;
  MemoryFormat format = MemoryFormat::Contiguous;  // of x, y and the filter alike
  bool tensorOps = false;                          // tensor-op math allowed (TF32 for float32 data)
  bool deterministic = false;

  bool operator==(const ConvKey& o) const;
  bool operator!=(const ConvKey& o) const { return !(*this == o); }
};
struct ConvKeyHash {
  size_t operator()(const ConvKey& k) const;
};
ConvKey makeConvKey(ConvPass pass, const Shape& x, const Shape& w, const Conv2dParams& p, DType dtype,
                    MemoryFormat format, bool tensorOps, bool deterministic);
// "forward conv2d x (8, 3, 32, 32) weight (16, 3, 3, 3) stride (1, 1) ... float32 contiguous": for errors.
std::string describe(const ConvKey& k);

// One pass's operands. The image side is x (forward, backward filter) or dx (backward data), the
// filter side the weight or dw, the output side y or dy. `out` is the pass's output (y, dx or dw):
// the benchmark writes into it, so it must be the real output buffer, overwritten afterwards.
struct ConvArgs {
  ConvKey key;
  const TensorDesc* x = nullptr;
  const void* xData = nullptr;
  const FilterDesc* w = nullptr;
  const void* wData = nullptr;
  const TensorDesc* y = nullptr;
  const void* yData = nullptr;
  ConvDesc* conv = nullptr;  // its math type is set to the chosen algorithm's
  void* out = nullptr;
};

// The algorithm to run (a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t by args.key.pass) and its
// workspace, already allocated with cr::cuda::workspace (valid until the next workspace() call).
struct ConvPlan {
  int algo = 0;
  void* workspace = nullptr;
  size_t workspaceBytes = 0;
};
ConvPlan planConvolution(const ConvArgs& args);

}  // namespace cr::cuda
