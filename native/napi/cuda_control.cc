// The GPU's settings and controls behind rn.cuda and rn.cuda.CudaGraph, one binding function
// each, named as in rn.cuda and in cuda/control.h: setAllowTf32 / allowTf32, setDeterministic,
// setBatchNormKernels / batchNormKernels, fusedConvPlans, the cache and peak counters, and the
// graph capture calls. In a build without the CUDA part they report the defaults or throw why.
#include "cuda_control.h"

#include "../cuda/control.h"
#include "convert.h"

namespace cr::napi {
namespace {

using Info = Napi::CallbackInfo;

// fn(info) with native errors turned into JS errors that start with `name`.
template <typename F>
Napi::Function control(Napi::Env env, const char* name, F fn) {
  return Napi::Function::New(env, [name, fn](const Info& info) -> Napi::Value {
    return guarded(info, name, [&]() -> Napi::Value { return fn(info); });
  }, name);
}

Napi::Value fusedConvPlans(Napi::Env env) {
  cuda::FusedConvReport r = cuda::fusedConvPlans();
  Napi::Object out = Napi::Object::New(env);
  out.Set("plans", static_cast<double>(r.plans));
  out.Set("unsupported", static_cast<double>(r.unsupported));
  out.Set("hits", static_cast<double>(r.hits));
  out.Set("lastReason", r.lastReason);
  out.Set("intermediates", r.intermediates);
  return out;
}

}  // namespace

void InitCudaControl(Napi::Env env, Napi::Object exports) {
  const auto set = [&](const char* name, auto fn) { exports.Set(name, control(env, name, fn)); };
  set("cudaEmptyCache", [](const Info& info) { cuda::emptyDeviceCache(); return info.Env().Undefined(); });
  set("cudaResetPeakMemoryStats", [](const Info& info) { cuda::resetPeakMemory(); return info.Env().Undefined(); });
  set("cudaSynchronize", [](const Info& info) { cuda::synchronizeDevice(); return info.Env().Undefined(); });

  set("setAllowTf32", [](const Info& info) { cuda::setAllowTf32(toBool(info[0], "allow")); return info.Env().Undefined(); });
  set("allowTf32", [](const Info& info) -> Napi::Value { return Napi::Boolean::New(info.Env(), cuda::allowTf32()); });
  set("setDeterministic", [](const Info& info) { cuda::setDeterministic(toBool(info[0], "on")); return info.Env().Undefined(); });
  set("setBatchNormKernels", [](const Info& info) {
    std::string kind = toString(info[0], "kind");
    CR_CHECK_TYPE(kind == "fused" || kind == "cudnn", "expected 'fused' or 'cudnn', got '", kind, "'");
    cuda::setBatchNormKernels(kind == "fused");
    return info.Env().Undefined();
  });
  set("batchNormKernels", [](const Info& info) -> Napi::Value {
    return Napi::String::New(info.Env(), cuda::batchNormKernelsFused() ? "fused" : "cudnn");
  });
  set("fusedConvPlans", [](const Info& info) { return fusedConvPlans(info.Env()); });

  set("beginCapture", [](const Info& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(cuda::beginCapture()));
  });
  set("endCapture", [](const Info& info) { cuda::endCapture(toInt64(info[0], "graph")); return info.Env().Undefined(); });
  set("abortCapture", [](const Info& info) { cuda::abortCapture(toInt64(info[0], "graph")); return info.Env().Undefined(); });
  set("replayGraph", [](const Info& info) { cuda::replayGraph(toInt64(info[0], "graph")); return info.Env().Undefined(); });
  set("destroyGraph", [](const Info& info) { cuda::destroyGraph(toInt64(info[0], "graph")); return info.Env().Undefined(); });

  set("forceCudnnStatus", [](const Info& info) {
    cuda::forceCudnnStatus(toString(info[0], "site"), static_cast<int>(toInt64(info[1], "status")));
    return info.Env().Undefined();
  });
}

}  // namespace cr::napi
