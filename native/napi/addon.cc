// The addon's entry point: registers the tensor class, the tensor functions, the ops, and the
// process-wide queries (memory counters, backends, thread and GEMM settings), and the profiler.
#include <napi.h>

#include "../core/cpu_features.h"
#include "../core/parallel.h"
#include "../core/tensor.h"
#include "../cpu/gemm.h"
#include "../cuda/control.h"
#include "../cuda/device_info.h"
#include "convert.h"
#include "distributed.h"
#include "ops.h"
#include "profile.h"
#include "tensor_wrap.h"

namespace cr::napi {
namespace {

Napi::Value Memory(const Napi::CallbackInfo& info) {
  MemoryStats s = memoryStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("liveTensors", static_cast<double>(s.liveTensors));
  out.Set("liveStorages", static_cast<double>(s.liveStorages));
  out.Set("liveBytes", static_cast<double>(s.liveBytes));
  out.Set("peakBytes", static_cast<double>(s.peakBytes));
  out.Set("cachedBytes", static_cast<double>(s.cachedBytes));
  out.Set("layoutConversions", static_cast<double>(s.layoutConversions));
  return out;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  cpuEmptyCache();
  return info.Env().Undefined();
}

Napi::Object libraryReport(Napi::Env env, const cuda::LibraryReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", r.loaded);
  if (r.loaded) {
    o.Set("path", r.path);
    o.Set("version", r.version);
  } else {
    o.Set("reason", r.reason);
  }
  if (!r.builtForCuda.empty()) o.Set("builtForCuda", r.builtForCuda);
  Napi::Array searched = Napi::Array::New(env, r.searched.size());
  for (size_t i = 0; i < r.searched.size(); ++i) searched.Set(static_cast<uint32_t>(i), r.searched[i]);
  o.Set("searched", searched);
  return o;
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("threads", numThreads());
  cpu.Set("gemm", gemmBackend() == GemmBackend::OpenBlas ? "openblas" : "builtin");
  cpu.Set("gemmIsa", builtinGemmIsa());
  cpu.Set("isa", cpuIsaName(cpuIsa()));
  const std::vector<CpuIsa> isas = cpuIsasAvailable();
  Napi::Array available = Napi::Array::New(env, isas.size());
  for (size_t i = 0; i < isas.size(); ++i) available.Set(static_cast<uint32_t>(i), cpuIsaName(isas[i]));
  cpu.Set("isasAvailable", available);
  const std::vector<std::string> names = cpuFeatureNames();
  Napi::Array features = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) features.Set(static_cast<uint32_t>(i), names[i]);
  cpu.Set("features", features);
  Napi::Object openblas = Napi::Object::New(env);
  openblas.Set("available", openBlasAvailable());
  openblas.Set("info", openBlasInfo());
  cpu.Set("openblas", openblas);

  // CUDA is available when a device answers and cuDNN and cuBLAS are loaded; the reason is the
  // first of these that fails.
  CudaInfo ci = cudaInfo();
  cuda::LibraryReport dnn = ci.compiled ? cuda::cudnnReport() : cuda::LibraryReport{};
  cuda::LibraryReport blas = ci.compiled ? cuda::cublasReport() : cuda::LibraryReport{};
  std::string reason = !ci.available ? ci.reason : !dnn.loaded ? dnn.reason : !blas.loaded ? blas.reason : "";
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", ci.compiled);
  cuda.Set("available", reason.empty());
  if (!reason.empty()) cuda.Set("reason", reason);
  if (ci.compiled) {
    cuda.Set("cudnn", libraryReport(env, dnn));
    cuda.Set("cublas", libraryReport(env, blas));
  }
  cuda.Set("runtimeVersion", ci.runtimeVersion);
  cuda.Set("driverVersion", ci.driverVersion);
  Napi::Array devices = Napi::Array::New(env, ci.devices.size());
  for (size_t i = 0; i < ci.devices.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", ci.devices[i].name);
    d.Set("computeCapability", std::to_string(ci.devices[i].major) + "." + std::to_string(ci.devices[i].minor));
    d.Set("totalMemory", static_cast<double>(ci.devices[i].totalMemory));
    devices.Set(static_cast<uint32_t>(i), d);
  }
  cuda.Set("devices", devices);

  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu);
  out.Set("cuda", cuda);
  return out;
}

Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  cuda::MemoryReport m = cuda::memoryReport();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("allocatedBytes", static_cast<double>(m.allocatedBytes));
  out.Set("reservedBytes", static_cast<double>(m.reservedBytes));
  out.Set("peakAllocatedBytes", static_cast<double>(m.peakAllocatedBytes));
  out.Set("allocations", static_cast<double>(m.allocations));
  out.Set("cacheHits", static_cast<double>(m.cacheHits));
  out.Set("deviceMallocs", static_cast<double>(m.deviceMallocs));
  return out;
}

Napi::Value fusedConvPlans(Napi::Env env) {
  cuda::FusedConvReport r = cuda::fusedConvReport();
  Napi::Object out = Napi::Object::New(env);
  out.Set("plans", static_cast<double>(r.plans));
  out.Set("unsupported", static_cast<double>(r.unsupported));
  out.Set("hits", static_cast<double>(r.hits));
  out.Set("lastReason", r.lastReason);
  out.Set("intermediates", r.intermediates);
  return out;
}

Napi::Value CudaControl(const Napi::CallbackInfo& info) {
  return guarded(info, "cuda", [&]() -> Napi::Value {
    std::string what = toString(info[0], "action");
    if (what == "emptyCache") cuda::emptyDeviceCache();
    else if (what == "resetPeak") cuda::resetPeakMemory();
    else if (what == "synchronize") cuda::synchronizeDevice();
    else if (what == "allowTf32") cuda::setTf32(toBool(info[1], "allow"));
    else if (what == "tf32") return Napi::Boolean::New(info.Env(), cuda::tf32Allowed());
    else if (what == "deterministic") cuda::setDeterministicConv(toBool(info[1], "on"));
    else if (what == "fusedBatchNorm") cuda::setFusedBatchNorm(toBool(info[1], "fused"));
    else if (what == "batchNormKernels") return Napi::String::New(info.Env(), cuda::fusedBatchNorm() ? "fused" : "cudnn");
    else if (what == "fusedConvPlans") return fusedConvPlans(info.Env());
    else if (what == "forceCudnnStatus")
      cuda::forceCudnnStatus(toString(info[1], "site"), static_cast<int>(toInt64(info[2], "status")));
    else if (what == "graphCapturing") return Napi::Boolean::New(info.Env(), cuda::graphCapturing());
    else if (what == "graphBegin") return Napi::Number::New(info.Env(), static_cast<double>(cuda::graphBegin()));
    else if (what == "graphEnd") cuda::graphEnd(toInt64(info[1], "graph"));
    else if (what == "graphAbort") cuda::graphAbort(toInt64(info[1], "graph"));
    else if (what == "graphReplay") cuda::graphReplay(toInt64(info[1], "graph"));
    else if (what == "graphDestroy") cuda::graphDestroy(toInt64(info[1], "graph"));
    else CR_CHECK_TYPE(false, "cuda: unknown action '", what, "'");
    return info.Env().Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, "setNumThreads", [&]() -> Napi::Value {
    int64_t n = toInt64(info[0], "threads");
    CR_CHECK_RANGE(n >= 1, "setNumThreads: threads must be at least 1, got ", n);
    return Napi::Number::New(info.Env(), setNumThreads(static_cast<int>(n)));
  });
}

Napi::Value SetGemmBackend(const Napi::CallbackInfo& info) {
  return guarded(info, "setGemmBackend", [&]() -> Napi::Value {
    std::string name = toString(info[0], "backend");
    CR_CHECK_TYPE(name == "builtin" || name == "openblas", "setGemmBackend: expected 'builtin' or 'openblas', got '",
                  name, "'");
    setGemmBackend(name == "openblas" ? GemmBackend::OpenBlas : GemmBackend::Builtin);
    return info.Env().Undefined();
  });
}

Napi::Value SetCpuIsa(const Napi::CallbackInfo& info) {
  return guarded(info, "setCpuIsa", [&]() -> Napi::Value {
    setCpuIsa(parseCpuIsa(toString(info[0], "isa"), "setCpuIsa"));
    return info.Env().Undefined();
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // CUDNN_RESNET_CPU_ISA naming an instruction set the CPU lacks makes loading the addon fail with
  // that sentence, before any kernel could run it.
  try {
    initCpuIsa();
  } catch (const Error& e) {
    throw Napi::TypeError::New(env, e.what());
  }
  TensorWrap::Init(env, exports);
  InitTensorFunctions(env, exports);
  InitOps(env, exports, InitProfiler(env, exports));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  exports.Set("cudaMemory", Napi::Function::New(env, CudaMemory, "cudaMemory"));
  exports.Set("cudaControl", Napi::Function::New(env, CudaControl, "cudaControl"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("setGemmBackend", Napi::Function::New(env, SetGemmBackend, "setGemmBackend"));
  InitDistributed(env, exports);
  exports.Set("setCpuIsa", Napi::Function::New(env, SetCpuIsa, "setCpuIsa"));
  return exports;
}

}  // namespace cr::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return cr::napi::Init(env, exports); }

NODE_API_MODULE(cudnn_resnet, InitAddon)
