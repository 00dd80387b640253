// Algorithm search and cache for the cuDNN convolutions (see conv_algos.h).
//   1. Heuristics (cudnnGet...Algorithm_v7) list the algorithms with their workspace sizes; the largest
//      usable size, capped at min(free device memory / 2, 1 GiB), is the benchmark's workspace.
//   2. The benchmark (cudnnFind...AlgorithmEx) times every algorithm on the real operands, writing
//      into the pass's output; the fastest result that succeeded (and is deterministic when that is
//      asked for, and uses no tensor ops when those are not allowed) is cached under the ConvKey.
//   3. When the benchmark's workspace cannot be allocated or the benchmark fails, the first heuristic
//      choice whose workspace can be allocated is used (and cached).
//   4. During a CUDA graph capture a key not yet cached takes the heuristics' choice (not cached).
// Before each run the descriptor's math type is set to the chosen result's: cuDNN pairs an algorithm
// with a math type, and runs a slower kernel when the descriptor's math type differs.
#include "conv_algos.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/error.h"
#include "dynload.h"
#include "graph.h"
#include "handles.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr size_t kMaxBenchmarkWorkspace = size_t{1} << 30;

std::atomic<bool> gDeterministic{false};

// A cached choice: the algorithm (as int, whatever the pass), its math type and workspace size.
struct Choice {
  int algo = 0;
  dnn::cudnnMathType_t math = dnn::CUDNN_DEFAULT_MATH;
  size_t memory = 0;
};

std::mutex gMutex;
std::unordered_map<ConvKey, Choice, ConvKeyHash>& cache() {
  static auto* map = new std::unordered_map<ConvKey, Choice, ConvKeyHash>();  // never destroyed: used at exit
  return *map;
}

// The three passes' cuDNN entry points, behind one interface.
template <ConvPass P> struct Pass;

template <> struct Pass<ConvPass::Forward> {
  using Perf = dnn::cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = dnn::CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static dnn::cudnnStatus_t heuristics(const ConvArgs& a, int* count, Perf* perf) {
    return dnn::cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle(), a.x->get(), a.w->get(), a.conv->get(),
                                                       a.y->get(), kCount, count, perf);
  }
  static dnn::cudnnStatus_t benchmark(const ConvArgs& a, int* count, Perf* perf, void* ws, size_t bytes) {
    return dnn::cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle(), a.x->get(), a.xData, a.w->get(), a.wData,
                                                       a.conv->get(), a.y->get(), a.out, kCount, count, perf,
                                                       ws, bytes);
  }
};

template <> struct Pass<ConvPass::BackwardData> {
  using Perf = dnn::cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = dnn::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static dnn::cudnnStatus_t heuristics(const ConvArgs& a, int* count, Perf* perf) {
    return dnn::cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle(), a.w->get(), a.y->get(), a.conv->get(),
                                                            a.x->get(), kCount, count, perf);
  }
  static dnn::cudnnStatus_t benchmark(const ConvArgs& a, int* count, Perf* perf, void* ws, size_t bytes) {
    return dnn::cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle(), a.w->get(), a.wData, a.y->get(),
                                                            a.yData, a.conv->get(), a.x->get(), a.out, kCount,
                                                            count, perf, ws, bytes);
  }
};

template <> struct Pass<ConvPass::BackwardFilter> {
  using Perf = dnn::cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = dnn::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static dnn::cudnnStatus_t heuristics(const ConvArgs& a, int* count, Perf* perf) {
    return dnn::cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle(), a.x->get(), a.y->get(),
                                                              a.conv->get(), a.w->get(), kCount, count, perf);
  }
  static dnn::cudnnStatus_t benchmark(const ConvArgs& a, int* count, Perf* perf, void* ws, size_t bytes) {
    return dnn::cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle(), a.x->get(), a.xData, a.y->get(),
                                                              a.yData, a.conv->get(), a.w->get(), a.out,
                                                              kCount, count, perf, ws, bytes);
  }
};

// A result the key allows: it ran (or would run), is deterministic when asked, and for float32 data
// without tensor ops uses plain FMA math (CUDNN_DEFAULT_MATH admits TF32 on Ampere and later).
template <typename Perf>
bool usable(const Perf& r, const ConvKey& k) {
  if (r.status != dnn::CUDNN_STATUS_SUCCESS) return false;
  if (k.deterministic && r.determinism != dnn::CUDNN_DETERMINISTIC) return false;
  if (!k.tensorOps && k.dtype == DType::Float32 && r.mathType != dnn::CUDNN_FMA_MATH) return false;
  return true;
}

template <typename Perf>
Choice choiceOf(const Perf& r) {
  Choice c;
  c.algo = static_cast<int>(r.algo);
  c.math = r.mathType;
  c.memory = r.memory;
  return c;
}

// Scratch of `bytes` from cr::cuda::workspace; false (and the error kept in *error) when the memory
// cannot be had.
bool tryWorkspace(size_t bytes, void** ptr, Error* error) {
  try {
    *ptr = workspace(bytes);
    return true;
  } catch (const Error& e) {
    (void)cudaGetLastError();  // a failed cudaMalloc leaves its error as the last error; clear it
    if (error) *error = e;
    return false;
  }
}

template <ConvPass P>
std::vector<typename Pass<P>::Perf> heuristicList(const ConvArgs& a) {
  std::vector<typename Pass<P>::Perf> perf(Pass<P>::kCount);
  int count = 0;
  CR_CUDNN_CHECK(Pass<P>::heuristics(a, &count, perf.data()));
  perf.resize(static_cast<size_t>(std::max(0, std::min(count, Pass<P>::kCount))));
  return perf;
}

// The first heuristic choice that the key allows and whose workspace can be allocated now; throws
// the allocation error when there is none.
template <ConvPass P>
Choice firstThatFits(const ConvArgs& a, const std::vector<typename Pass<P>::Perf>& list, void** ws) {
  Error lastError(ErrorKind::Generic, "");
  bool anyUsable = false;
  for (const auto& r : list) {
    if (!usable(r, a.key)) continue;
    anyUsable = true;
    if (tryWorkspace(r.memory, ws, &lastError)) return choiceOf(r);
  }
  if (anyUsable) throw lastError;
  CR_CHECK(false, "conv2d: cuDNN has no usable algorithm for the ", describe(a.key));
}

// Benchmark, or heuristics when the benchmark cannot run. Leaves a workspace of at least the
// choice's size allocated in *ws.
template <ConvPass P>
Choice search(const ConvArgs& a, void** ws) {
  using Perf = typename Pass<P>::Perf;
  std::vector<Perf> list = heuristicList<P>(a);
  size_t needed = 0;
  for (const Perf& r : list)
    if (usable(r, a.key)) needed = std::max(needed, r.memory);
  size_t freeBytes = 0, totalBytes = 0;
  CR_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  size_t limit = std::min({needed, freeBytes / 2, kMaxBenchmarkWorkspace});

  void* scratch = nullptr;
  if (tryWorkspace(limit, &scratch, nullptr)) {
    std::vector<Perf> found(Pass<P>::kCount);
    int count = 0;
    if (Pass<P>::benchmark(a, &count, found.data(), scratch, limit) == dnn::CUDNN_STATUS_SUCCESS) {
      const Perf* best = nullptr;
      for (int i = 0; i < std::min(count, Pass<P>::kCount); ++i) {
        const Perf& r = found[static_cast<size_t>(i)];
        if (usable(r, a.key) && r.memory <= limit && (!best || r.time < best->time)) best = &r;
      }
      if (best) {
        *ws = scratch;  // at least best->memory bytes
        return choiceOf(*best);
      }
    }
  }
  return firstThatFits<P>(a, list, ws);
}

template <ConvPass P>
ConvPlan plan(const ConvArgs& a) {
  // Without tensor ops, float32 data is searched with FMA math only (see usable()). With TF32 allowed,
  // float32 data is searched from CUDNN_DEFAULT_MATH, the math type cuDNN documents as admitting TF32
  // on Ampere and later (and PyTorch's choice); CUDNN_TENSOR_OP_MATH is documented as not converting
  // data types for tensor cores, which may leave TF32 kernels out of the search.
  if (a.key.dtype == DType::Float32)
    CR_CUDNN_CHECK(dnn::cudnnSetConvolutionMathType(a.conv->get(),
                                                    a.key.tensorOps ? dnn::CUDNN_DEFAULT_MATH : dnn::CUDNN_FMA_MATH));

  Choice choice;
  void* ws = nullptr;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = cache().find(a.key);
    if (it != cache().end()) {
      choice = it->second;
      cached = true;
    }
  }
  if (!cached && capturing()) {
    // The benchmark synchronises, which a graph capture cannot do: this call takes the heuristics'
    // choice, and the benchmark runs at the first call outside a capture.
    choice = firstThatFits<P>(a, heuristicList<P>(a), &ws);
  } else if (!cached) {
    choice = search<P>(a, &ws);
    std::lock_guard<std::mutex> lock(gMutex);
    cache()[a.key] = choice;
  } else {
    Error error(ErrorKind::Generic, "");
    // Not enough memory for the cached choice's workspace right now: this call uses the first heuristic
    // choice that fits (the cache keeps the faster one).
    if (!tryWorkspace(choice.memory, &ws, &error)) choice = firstThatFits<P>(a, heuristicList<P>(a), &ws);
  }
  CR_CUDNN_CHECK(dnn::cudnnSetConvolutionMathType(a.conv->get(), choice.math));
  ConvPlan result;
  result.algo = choice.algo;
  result.workspace = ws;
  result.workspaceBytes = choice.memory;
  return result;
}

const char* passName(ConvPass p) {
  switch (p) {
    case ConvPass::Forward: return "forward";
    case ConvPass::BackwardData: return "backward-data";
    case ConvPass::BackwardFilter: return "backward-filter";
  }
  return "?";
}

}  // namespace

void setDeterministic(bool value) { gDeterministic.store(value); }
bool deterministic() { return gDeterministic.load(); }

void clearConvAlgoCache() {
  std::lock_guard<std::mutex> lock(gMutex);
  cache().clear();
}

bool ConvKey::operator==(const ConvKey& o) const {
  return pass == o.pass && std::equal(x, x + 4, o.x) && std::equal(w, w + 4, o.w) && strideH == o.strideH &&
         strideW == o.strideW && padH == o.padH && padW == o.padW && dilationH == o.dilationH &&
         dilationW == o.dilationW && groups == o.groups && dtype == o.dtype && format == o.format &&
         tensorOps == o.tensorOps && deterministic == o.deterministic;
}

size_t ConvKeyHash::operator()(const ConvKey& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
  auto mix = [&h](int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint64_t>(v >> (8 * i)) & 0xffu;
      h *= 1099511628211ull;
    }
  };
  mix(static_cast<int64_t>(k.pass));
  for (int64_t v : k.x) mix(v);
  for (int64_t v : k.w) mix(v);
  for (int64_t v : {k.strideH, k.strideW, k.padH, k.padW, k.dilationH, k.dilationW, k.groups}) mix(v);
  mix(static_cast<int64_t>(k.dtype));
  mix(static_cast<int64_t>(k.format));
  mix(k.tensorOps ? 1 : 0);
  mix(k.deterministic ? 1 : 0);
  return static_cast<size_t>(h);
}

ConvKey makeConvKey(ConvPass pass, const Shape& x, const Shape& w, const Conv2dParams& p, DType dtype,
                    MemoryFormat format, bool tensorOps, bool deterministic) {
  CR_CHECK(x.size() == 4 && w.size() == 4, "conv2d: an algorithm key needs 4-D shapes, got x ", shapeString(x),
           " and weight ", shapeString(w));
  ConvKey k;
  k.pass = pass;
  std::copy(x.begin(), x.end(), k.x);
  std::copy(w.begin(), w.end(), k.w);
  k.strideH = p.strideH, k.strideW = p.strideW, k.padH = p.padH, k.padW = p.padW;
  k.dilationH = p.dilationH, k.dilationW = p.dilationW, k.groups = p.groups;
  k.dtype = dtype;
  k.format = format;
  k.tensorOps = tensorOps;
  k.deterministic = deterministic;
  return k;
}

std::string describe(const ConvKey& k) {
  std::ostringstream os;
  os << passName(k.pass) << " convolution of x " << shapeString(Shape(k.x, k.x + 4)) << " with weight "
     << shapeString(Shape(k.w, k.w + 4)) << ", stride (" << k.strideH << ", " << k.strideW << "), padding ("
     << k.padH << ", " << k.padW << "), dilation (" << k.dilationH << ", " << k.dilationW << "), groups "
     << k.groups << ", " << dtypeName(k.dtype) << ", " << formatName(k.format)
     << (k.tensorOps ? ", tensor ops" : ", no tensor ops") << (k.deterministic ? ", deterministic" : "");
  return os.str();
}

ConvPlan planConvolution(const ConvArgs& args) {
  switch (args.key.pass) {
    case ConvPass::Forward: return plan<ConvPass::Forward>(args);
    case ConvPass::BackwardData: return plan<ConvPass::BackwardData>(args);
    case ConvPass::BackwardFilter: return plan<ConvPass::BackwardFilter>(args);
  }
  CR_CHECK(false, "conv2d: unknown convolution pass ", static_cast<int>(args.key.pass));
}

}  // namespace cr::cuda
