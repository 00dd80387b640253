// The addon's entry point: registers the tensor class, the tensor functions, the ops, and the
// process-wide queries (memory counters, backends, thread and GEMM settings), the GPU's settings
// (cuda_control.cc), and the profiler.
#include <napi.h>

#include "../core/cpu_features.h"
#include "../core/parallel.h"
#include "../core/tensor.h"
#include "../cpu/gemm.h"
#include "../cpu/gemm_bf16.h"
#include "../cuda/control.h"
#include "../cuda/device_info.h"
#include "convert.h"
#include "cuda_control.h"
#include "distributed.h"
#include "ops.h"
#include "profile.h"
#include "tensor_wrap.h"

namespace cr::napi {
namespace {

// An object of numeric fields, in the order given.
Napi::Object counters(Napi::Env env, std::initializer_list<std::pair<const char*, int64_t>> fields) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, value] : fields) out.Set(name, static_cast<double>(value));
  return out;
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  MemoryStats s = memoryStats();
  return counters(info.Env(), {{"liveTensors", s.liveTensors}, {"liveStorages", s.liveStorages}, {"liveBytes", s.liveBytes},
                               {"peakBytes", s.peakBytes}, {"cachedBytes", s.cachedBytes},
                               {"layoutConversions", s.layoutConversions}});
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  cpuEmptyCache();
  return info.Env().Undefined();
}


// Whether autocast bfloat16 computes natively on the CPU now (gemm_bf16.h); asked by every autocast op.
Napi::Value CpuBf16Native(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), bf16ComputeNative()); }

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("threads", numThreads());
  cpu.Set("gemm", gemmBackend() == GemmBackend::OpenBlas ? "openblas" : "builtin");
  cpu.Set("gemmIsa", builtinGemmIsa());
  cpu.Set("isa", cpuIsaName(cpuIsa()));
  cpu.Set("bf16", bf16ComputeName());
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
  LibraryInfo dnn = ci.compiled ? cuda::cudnnReport() : LibraryInfo{};
  LibraryInfo blas = ci.compiled ? cuda::cublasReport() : LibraryInfo{};
  std::string reason = !ci.available ? ci.reason : !dnn.loaded ? dnn.reason : !blas.loaded ? blas.reason : "";
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", ci.compiled);
  cuda.Set("available", reason.empty());
  if (!reason.empty()) cuda.Set("reason", reason);
  if (ci.compiled) {
    cuda.Set("cudnn", libraryObject(env, dnn));
    cuda.Set("cublas", libraryObject(env, blas));
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
  return counters(info.Env(), {{"allocatedBytes", m.allocatedBytes}, {"reservedBytes", m.reservedBytes},
                               {"peakAllocatedBytes", m.peakAllocatedBytes}, {"allocations", m.allocations},
                               {"cacheHits", m.cacheHits}, {"deviceMallocs", m.deviceMallocs}});
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
  exports.Set("cpuBf16Native", Napi::Function::New(env, CpuBf16Native, "cpuBf16Native"));
  exports.Set("cudaMemory", Napi::Function::New(env, CudaMemory, "cudaMemory"));
  InitCudaControl(env, exports);
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("setGemmBackend", Napi::Function::New(env, SetGemmBackend, "setGemmBackend"));
  InitDistributed(env, exports);
  exports.Set("setCpuIsa", Napi::Function::New(env, SetCpuIsa, "setCpuIsa"));
  return exports;
}

}  // namespace cr::napi

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return cr::napi::Init(env, exports); }

NODE_API_MODULE(cudnn_resnet, InitAddon)
