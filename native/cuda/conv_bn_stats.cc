// convBnStats on the GPU as one cuDNN graph (the graph API's "ConvBNfprop" pattern):
//   x ──[× scale]──[+ bias]──[relu]──► conv(·, weight) ──► y ──► genStats ──► sum, sqSum
// x, weight, scale, bias and y are float16 or bfloat16, stored NHWC (the weight KRSC; scale and bias
// as (1, C, 1, 1)); the pointwise math and the convolution's accumulation are float32, and so are the
// statistics (O). Each bracketed node is present only when asked for. The prologue's virtual
// intermediates (after scale, bias, ReLU) are declared float32 first, as NVIDIA's samples build the
// pattern (cudnn-frontend's "SBRCS" sample in samples/cpp/convolution/fprop.cpp has used float32
// intermediates since late 2023, its backend-API fusion sample samples/legacy_samples/
// fusion_sample.cpp declares them CUDNN_DATA_FLOAT); when no engine finalizes that graph, the same
// graph with intermediates in the data's dtype is tried. fusedConvPlanStats() says which was taken.
// cuDNN documents the pattern's pre-compiled engine for float16 only, on compute capability 8.0 and
// newer except 8.9 (on 9.0 and newer only the full prologue or none): bfloat16 runs only where some
// other engine takes it.
// Plans: heuristics mode A, then FALLBACK, propose engine configurations; the first whose execution
// plan finalizes (and, when deterministic convolutions are asked for, whose engine is not marked
// nondeterministic) is cached under the shapes, parameters, dtype and prologue parts. A configuration
// that no engine runs is cached as unsupported with cuDNN's reason. During a CUDA graph capture no
// plan is built (finalizing one may synchronise or compile): an uncached configuration is reported
// unsupported for that call only.
// Unsupported calls return the reason in ConvBnStatsResult::unsupported and nothing else; the caller
// (lib/ops/conv_bn_stats.ts) then composes the op from existing ones.
#include "conv_bn_stats.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "../core/error.h"
#include "conv_algos.h"
#include "descriptors.h"
#include "dynload.h"
#include "graph.h"
#include "graph_api.h"
#include "handles.h"
#include "ops.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr const char* kOp = "convBnStats";

// Unique ids of the graph's tensors (the variant pack names the real ones by these).
enum Uid : int64_t { kX = 1, kWeight, kScale, kBias, kY, kSum, kSqSum, kScaled = 101, kBiased, kActivated };

struct PlanKey {
  ConvKey conv;  // shapes, parameters, dtype, determinism
  bool scale = false, bias = false, relu = false;
  bool operator==(const PlanKey& o) const {
    return conv == o.conv && scale == o.scale && bias == o.bias && relu == o.relu;
  }
};
struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    return ConvKeyHash{}(k.conv) * 8 + (k.scale ? 1 : 0) + (k.bias ? 2 : 0) + (k.relu ? 4 : 0);
  }
};

// A finalized execution plan and every descriptor it was built from (kept alive with it).
struct Plan {
  std::deque<BackendDesc> parts;
  BackendDesc plan;
  int64_t workspaceBytes = 0;
  DType intermediates = DType::Float32;  // of the prologue's virtual tensors
};
// A cache entry: a plan, or why there is none.
struct Entry {
  std::shared_ptr<const Plan> plan;
  std::string unsupported;
};

std::mutex gMutex;
int64_t gHits = 0;
std::string gLastReason;
std::unordered_map<PlanKey, Entry, PlanKeyHash>& cache() {
  static auto* map = new std::unordered_map<PlanKey, Entry, PlanKeyHash>();  // never destroyed: used at exit
  return *map;
}

std::vector<int64_t> dims(const int64_t (&nchw)[4]) { return {nchw[0], nchw[1], nchw[2], nchw[3]}; }

// A pointwise operation y = mode(x[, b]), computed in float32.
BackendDesc pointwiseOp(std::deque<BackendDesc>& parts, dnn::cudnnPointwiseMode_t mode, const BackendDesc& x,
                        const BackendDesc* b, const BackendDesc& y) {
  BackendDesc& pw = parts.emplace_back(dnn::CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  pw.setEnum(dnn::CUDNN_ATTR_POINTWISE_MODE, dnn::CUDNN_TYPE_POINTWISE_MODE, mode)
      .setDataType(dnn::CUDNN_ATTR_POINTWISE_MATH_PREC, dnn::CUDNN_DATA_FLOAT)
      .finalize();
  BackendDesc op(dnn::CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.setDesc(dnn::CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
  if (b) op.setDesc(dnn::CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.setDesc(dnn::CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y).finalize();
  return op;
}

// The finalized operation graph of the key's pattern, its descriptors kept in `parts`, the
// prologue's virtual tensors of dtype `intermediates`. Throws cr::Error naming the cuDNN call when
// cuDNN rejects a part.
const BackendDesc& operationGraph(const PlanKey& k, DType intermediates, std::deque<BackendDesc>& parts) {
  const ConvKey& c = k.conv;
  const dnn::cudnnDataType_t io = cudnnType(c.dtype);
  const std::vector<int64_t> xDims = dims(c.x), wDims = dims(c.w);  // (N, C, H, W), (O, C, kH, kW)
  Conv2dParams p{c.strideH, c.strideW, c.padH, c.padW, c.dilationH, c.dilationW, c.groups};
  const Shape yDims = conv2dOutputShape(xDims, wDims, p);             // (N, O, Ho, Wo)
  const std::vector<int64_t> channelDims = {1, xDims[1], 1, 1}, statDims = {1, yDims[1], 1, 1};

  auto keep = [&](BackendDesc d) -> const BackendDesc& { return parts.emplace_back(std::move(d)); };
  const BackendDesc& x = keep(tensorDesc(kX, xDims, nhwcStrides(xDims), io, false));
  const BackendDesc& w = keep(tensorDesc(kWeight, wDims, nhwcStrides(wDims), io, false));  // KRSC
  const BackendDesc& y = keep(tensorDesc(kY, yDims, nhwcStrides(yDims), io, false));
  const BackendDesc& sum = keep(tensorDesc(kSum, statDims, nhwcStrides(statDims), dnn::CUDNN_DATA_FLOAT, false));
  const BackendDesc& sqSum = keep(tensorDesc(kSqSum, statDims, nhwcStrides(statDims), dnn::CUDNN_DATA_FLOAT, false));

  std::vector<const BackendDesc*> ops;
  const BackendDesc* input = &x;  // the convolution's input: x or the prologue's last intermediate
  auto prologueStep = [&](Uid uid, dnn::cudnnPointwiseMode_t mode, const BackendDesc* operand) {
    const BackendDesc& out = keep(tensorDesc(uid, xDims, nhwcStrides(xDims), cudnnType(intermediates), true));
    ops.push_back(&keep(pointwiseOp(parts, mode, *input, operand, out)));
    input = &out;
  };
  auto perChannel = [&](Uid uid) -> const BackendDesc* {  // (1, C, 1, 1)
    return &keep(tensorDesc(uid, channelDims, nhwcStrides(channelDims), io, false));
  };
  if (k.scale) prologueStep(kScaled, dnn::CUDNN_POINTWISE_MUL, perChannel(kScale));
  if (k.bias) prologueStep(kBiased, dnn::CUDNN_POINTWISE_ADD, perChannel(kBias));
  if (k.relu) prologueStep(kActivated, dnn::CUDNN_POINTWISE_RELU_FWD, nullptr);

  BackendDesc& conv = parts.emplace_back(dnn::CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  conv.setDataType(dnn::CUDNN_ATTR_CONVOLUTION_COMP_TYPE, dnn::CUDNN_DATA_FLOAT)
      .setEnum(dnn::CUDNN_ATTR_CONVOLUTION_CONV_MODE, dnn::CUDNN_TYPE_CONVOLUTION_MODE, dnn::CUDNN_CROSS_CORRELATION)
      .setInt64(dnn::CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2)
      .setInt64s(dnn::CUDNN_ATTR_CONVOLUTION_DILATIONS, {c.dilationH, c.dilationW})
      .setInt64s(dnn::CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {c.strideH, c.strideW})
      .setInt64s(dnn::CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {c.padH, c.padW})
      .setInt64s(dnn::CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {c.padH, c.padW})
      .finalize();
  BackendDesc& convOp = parts.emplace_back(dnn::CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  convOp.setDesc(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, *input)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, y)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv)
      .setFloat(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1.0f)
      .setFloat(dnn::CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0.0f)
      .finalize();
  ops.push_back(&convOp);

  BackendDesc& stats = parts.emplace_back(dnn::CUDNN_BACKEND_OPERATION_GEN_STATS_DESCRIPTOR);
  stats.setEnum(dnn::CUDNN_ATTR_OPERATION_GENSTATS_MODE, dnn::CUDNN_TYPE_GENSTATS_MODE, dnn::CUDNN_GENSTATS_SUM_SQSUM)
      .setDataType(dnn::CUDNN_ATTR_OPERATION_GENSTATS_MATH_PREC, dnn::CUDNN_DATA_FLOAT)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_GENSTATS_XDESC, y)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_GENSTATS_SUMDESC, sum)
      .setDesc(dnn::CUDNN_ATTR_OPERATION_GENSTATS_SQSUMDESC, sqSum)
      .finalize();
  ops.push_back(&stats);

  BackendDesc& graph = parts.emplace_back(dnn::CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.setDescs(dnn::CUDNN_ATTR_OPERATIONGRAPH_OPS, ops)
      .setHandle(dnn::CUDNN_ATTR_OPERATIONGRAPH_HANDLE, cudnnHandle())
      .finalize();
  return graph;
}

// The key's plan with the prologue's intermediates of dtype `intermediates`, or null with *why set
// when no engine configuration finalizes.
std::shared_ptr<const Plan> buildPlanWith(const PlanKey& k, DType intermediates, std::string* why) {
  auto plan = std::make_shared<Plan>();
  plan->intermediates = intermediates;
  const BackendDesc& graph = operationGraph(k, intermediates, plan->parts);
  std::string lastFailure = "the heuristics proposed no engine";
  for (dnn::cudnnBackendHeurMode_t mode : {dnn::CUDNN_HEUR_MODE_A, dnn::CUDNN_HEUR_MODE_FALLBACK}) {
    std::vector<BackendDesc> configs;
    try {
      configs = engineConfigs(graph, mode);
    } catch (const Error& e) {
      lastFailure = e.what();
      continue;
    }
    for (BackendDesc& config : configs) {
      if (k.conv.deterministic && nondeterministic(config)) {
        lastFailure = "every proposed engine is nondeterministic and deterministic convolutions are asked for";
        continue;
      }
      BackendDesc candidate(dnn::CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      candidate.setHandle(dnn::CUDNN_ATTR_EXECUTION_PLAN_HANDLE, cudnnHandle())
          .setDesc(dnn::CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, config);
      const dnn::cudnnStatus_t status = candidate.tryFinalize();
      if (status != dnn::CUDNN_STATUS_SUCCESS) {
        lastFailure =
            "cudnnBackendFinalize(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR) failed: " + cudnnStatusName(status);
        continue;
      }
      plan->workspaceBytes = candidate.getInt64(dnn::CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE);
      plan->parts.push_back(std::move(config));
      plan->plan = std::move(candidate);
      return plan;
    }
  }
  *why = lastFailure;
  return nullptr;
}

// The key's plan: float32 intermediates first, then the data's dtype (see the file comment); null
// with *why naming both failures when neither finalizes.
std::shared_ptr<const Plan> buildPlan(const PlanKey& k, std::string* why) {
  std::string failures;
  for (DType intermediates : {DType::Float32, k.conv.dtype}) {
    if (k.conv.dtype == DType::Float32 && !failures.empty()) break;  // one candidate only
    if (!k.scale && !k.bias && !k.relu && !failures.empty()) break;  // no prologue: nothing differs
    std::string reason;
    try {
      if (auto plan = buildPlanWith(k, intermediates, &reason)) return plan;
    } catch (const Error& e) {
      reason = e.what();
    }
    failures += std::string(failures.empty() ? "" : "; ") + "with " + dtypeName(intermediates) +
                " intermediates: " + reason;
  }
  *why = failures;
  return nullptr;
}

// The cached entry of the key, building it first when it is new (never during a capture: then
// `entry.unsupported` says so and nothing is cached).
Entry planFor(const PlanKey& k) {
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = cache().find(k);
    if (it != cache().end()) {
      if (it->second.plan) ++gHits;
      return it->second;
    }
  }
  Entry entry;
  if (capturing()) {
    entry.unsupported = "no plan is cached for it, and none is built while a CUDA graph is being captured";
    return entry;
  }
  std::string why;
  entry.plan = buildPlan(k, &why);
  if (!entry.plan) entry.unsupported = "cuDNN runs no fused engine for it: " + why;
  std::lock_guard<std::mutex> lock(gMutex);
  if (!entry.plan) gLastReason = entry.unsupported;
  cache()[k] = entry;
  return entry;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

ConvBnStatsResult unsupported(const std::string& what, const std::string& why) {
  ConvBnStatsResult r;
  r.unsupported = std::string(kOp) + ": the fused cuDNN path does not take " + what + ": " + why;
  return r;
}

}  // namespace

FusedConvPlanStats fusedConvPlanStats() {
  std::lock_guard<std::mutex> lock(gMutex);
  FusedConvPlanStats s;
  std::set<std::string> kinds;
  for (const auto& [key, entry] : cache()) {
    ++(entry.plan ? s.plans : s.unsupported);
    if (entry.plan) kinds.insert(dtypeName(entry.plan->intermediates));
  }
  for (const std::string& kind : kinds) s.intermediates += (s.intermediates.empty() ? "" : " and ") + kind;
  s.hits = gHits;
  s.lastReason = gLastReason;
  return s;
}

ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p) {
  const Shape yShape = checkConvBnStats(Device::CUDA, x, weight, scale, bias, p);  // (N, O, Ho, Wo)
  CR_CHECK_TYPE(x.dtype == DType::Float32 || x.dtype == DType::Float16 || x.dtype == DType::BFloat16, kOp,
                ": x must be float32, float16 or bfloat16, got ", dtypeName(x.dtype));
  CR_CHECK_TYPE(weight.dtype == x.dtype, kOp, ": weight must have x's dtype ", dtypeName(x.dtype), ", got ",
                dtypeName(weight.dtype));
  if (x.dtype == DType::Float32) return unsupported("this call", "it takes float16 or bfloat16 data, got float32");
  if (x.format != MemoryFormat::ChannelsLast) return unsupported("this call", "it takes channels-last (NHWC) x");
  if (p.groups != 1) return unsupported("this call", "grouped convolutions are not fused");
  if (x.numel() == 0 || weight.numel() == 0 || numelOf(yShape) == 0)
    return unsupported("this call", "a tensor is empty");
  for (const char* function : {"cudnnBackendCreateDescriptor", "cudnnBackendDestroyDescriptor", "cudnnBackendFinalize",
                               "cudnnBackendSetAttribute", "cudnnBackendGetAttribute", "cudnnBackendExecute"}) {
    if (!cudnnHasFunction(function)) return unsupported("this call", std::string("the loaded cuDNN lacks ") + function);
  }

  PlanKey key;
  key.conv = makeConvKey(ConvPass::Forward, x.shape, weight.shape, p, x.dtype, MemoryFormat::ChannelsLast, true,
                         deterministic());
  key.scale = scale != nullptr, key.bias = bias != nullptr, key.relu = relu;
  const Entry entry = planFor(key);
  if (!entry.plan) return unsupported("the " + describe(key.conv), entry.unsupported);

  Tensor w = weight.format == MemoryFormat::ChannelsLast ? weight : cuda::toFormat(weight, MemoryFormat::ChannelsLast);
  Tensor s = scale ? cuda::cast(*scale, x.dtype) : Tensor();  // (C), x's dtype as the pattern wants
  Tensor b = bias ? cuda::cast(*bias, x.dtype) : Tensor();    // (C)
  ConvBnStatsResult r;
  r.y = cuda::empty(yShape, x.dtype, MemoryFormat::ChannelsLast);  // (N, O, Ho, Wo)
  r.sum = cuda::zeros({yShape[1]});                                // (O)
  r.sqSum = cuda::zeros({yShape[1]});                              // (O)

  std::vector<int64_t> uids = {kX, kWeight, kY, kSum, kSqSum};
  std::vector<void*> pointers = {x.storage->data, w.storage->data, r.y.storage->data, r.sum.storage->data,
                                 r.sqSum.storage->data};
  if (scale) uids.push_back(kScale), pointers.push_back(s.storage->data);
  if (bias) uids.push_back(kBias), pointers.push_back(b.storage->data);
  for (void* pointer : pointers)
    if (!aligned16(pointer)) return unsupported("this call", "an operand is not 16-byte aligned");

  void* scratch = nullptr;
  if (entry.plan->workspaceBytes > 0) {
    try {
      scratch = workspace(static_cast<size_t>(entry.plan->workspaceBytes));
    } catch (const Error& e) {
      (void)cudaGetLastError();  // a failed cudaMalloc leaves its error as the last error; clear it
      return unsupported("this call", std::string("its workspace cannot be allocated now: ") + e.what());
    }
  }
  BackendDesc pack(dnn::CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.setPointers(dnn::CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, pointers)
      .setInt64s(dnn::CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uids)
      .setPointers(dnn::CUDNN_ATTR_VARIANT_PACK_WORKSPACE, {scratch})
      .finalize();
  CR_CUDNN_CHECK(dnn::cudnnBackendExecute(cudnnHandle(), entry.plan->plan.get(), pack.get()));
  return r;
}

}  // namespace cr::cuda
