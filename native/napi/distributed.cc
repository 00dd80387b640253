// The bindings of the process group (native/distributed): what was found, init, the
// collectives (each returns a work handle) and wait. Arguments are checked by lib/distributed.
#include "distributed.h"

#include "../distributed/group.h"
#include "../distributed/mpi_library.h"
#include "../distributed/nccl.h"
#include "convert.h"
#include "tensor_wrap.h"

namespace cr::napi {
namespace {

using Info = Napi::CallbackInfo;

Napi::Object groupObject(Napi::Env env, const dist::GroupInfo& g) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g.rank);
  o.Set("size", g.size);
  o.Set("localRank", g.localRank);
  o.Set("localSize", g.localSize);
  return o;
}

std::vector<Tensor> tensorList(const Napi::Value& v, const char* what) {
  CR_CHECK_TYPE(v.IsArray(), what, " must be an array of tensors");
  Napi::Array array = v.As<Napi::Array>();
  std::vector<Tensor> tensors;
  for (uint32_t i = 0; i < array.Length(); ++i) tensors.push_back(TensorWrap::Get(array.Get(i), what));
  return tensors;
}

dist::ReduceOp reduceOp(const Napi::Value& v) {
  const std::string name = toString(v, "op");
  if (name == "sum") return dist::ReduceOp::Sum;
  if (name == "mean") return dist::ReduceOp::Mean;
  if (name == "max") return dist::ReduceOp::Max;
  if (name == "min") return dist::ReduceOp::Min;
  CR_CHECK_TYPE(false, "op must be 'sum', 'mean', 'max' or 'min', got '", name, "'");
}

Napi::Value workHandle(Napi::Env env, dist::WorkPtr work) {
  return Napi::External<dist::WorkPtr>::New(env, new dist::WorkPtr(std::move(work)),
                                            [](Napi::Env, dist::WorkPtr* p) { delete p; });
}

dist::WorkPtr workArg(const Napi::Value& v) {
  CR_CHECK_TYPE(v.IsExternal(), "expected a work handle");
  return *v.As<Napi::External<dist::WorkPtr>>().Data();
}

Napi::Value Backends(const Info& info) {
  return guarded(info, "distributed.backends", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("mpi", libraryObject(env, mpi::mpiLibrary()));
    dist::NcclReport nccl = dist::ncclReport();
    Napi::Object ncclObject = libraryObject(env, nccl.library);
    ncclObject.Set("compiled", nccl.compiled);
    out.Set("nccl", ncclObject);
    dist::LauncherInfo launcher = dist::launcherInfo();
    Napi::Object launcherObject = groupObject(env, launcher.group);
    launcherObject.Set("launched", launcher.launched);
    out.Set("launcher", launcherObject);
    out.Set("initialized", dist::initialized());
    return out;
  });
}

Napi::Value Init(const Info& info) {
  return guarded(info, "distributed.init", [&]() -> Napi::Value {
    return groupObject(info.Env(), dist::init(toDouble(info[0], "timeout")));
  });
}

Napi::Value Finalize(const Info& info) {
  return guarded(info, "distributed.finalize", [&]() -> Napi::Value {
    dist::finalize();
    return info.Env().Undefined();
  });
}

Napi::Value AllReduce(const Info& info) {
  return guarded(info, "allReduce", [&]() -> Napi::Value {
    return workHandle(info.Env(), dist::allReduce(tensorList(info[0], "tensors"), tensorList(info[1], "outputs"), reduceOp(info[2])));
  });
}

Napi::Value AllReduceValues(const Info& info) {
  return guarded(info, "allReduceValues", [&]() -> Napi::Value {
    CR_CHECK_TYPE(info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array,
                  "values must be a Float64Array");
    Napi::Float64Array values = info[0].As<Napi::Float64Array>();
    return workHandle(info.Env(), dist::allReduceValues(std::vector<double>(values.Data(), values.Data() + values.ElementLength()),
                                                        reduceOp(info[1])));
  });
}

Napi::Value Broadcast(const Info& info) {
  return guarded(info, "broadcast", [&]() -> Napi::Value {
    return workHandle(info.Env(), dist::broadcast(tensorList(info[0], "tensors"), static_cast<int>(toInt64(info[1], "root"))));
  });
}

Napi::Value BroadcastBytes(const Info& info) {
  return guarded(info, "broadcast", [&]() -> Napi::Value {
    CR_CHECK_TYPE(info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
                  "bytes must be a Uint8Array");
    Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    return workHandle(info.Env(), dist::broadcastBytes(std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ElementLength()),
                                                       static_cast<int>(toInt64(info[1], "root"))));
  });
}

Napi::Value Barrier(const Info& info) {
  return guarded(info, "barrier", [&]() -> Napi::Value { return workHandle(info.Env(), dist::barrier()); });
}

// Blocks until the work is done: { seconds, values? (Float64Array), bytes? (Uint8Array) }.
Napi::Value Wait(const Info& info) {
  return guarded(info, "distributed.wait", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    dist::WorkPtr work = workArg(info[0]);
    dist::wait(work);
    Napi::Object out = Napi::Object::New(env);
    out.Set("seconds", work->seconds);
    if (work->kind == dist::Work::Kind::AllReduceValues) {
      Napi::Float64Array values = Napi::Float64Array::New(env, work->values.size());
      std::copy(work->values.begin(), work->values.end(), values.Data());
      out.Set("values", values);
    }
    if (work->kind == dist::Work::Kind::BroadcastBytes) {
      Napi::Uint8Array bytes = Napi::Uint8Array::New(env, work->bytes.size());
      std::copy(work->bytes.begin(), work->bytes.end(), bytes.Data());
      out.Set("bytes", bytes);
    }
    return out;
  });
}

Napi::Value IsDone(const Info& info) {
  return guarded(info, "distributed.isDone", [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), dist::isDone(workArg(info[0]))); });
}

}  // namespace

void InitDistributed(Napi::Env env, Napi::Object exports) {
  Napi::Object d = Napi::Object::New(env);
  d.Set("backends", Napi::Function::New(env, Backends, "backends"));
  d.Set("init", Napi::Function::New(env, Init, "init"));
  d.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
  d.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  d.Set("allReduceValues", Napi::Function::New(env, AllReduceValues, "allReduceValues"));
  d.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  d.Set("broadcastBytes", Napi::Function::New(env, BroadcastBytes, "broadcastBytes"));
  d.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  d.Set("wait", Napi::Function::New(env, Wait, "wait"));
  d.Set("isDone", Napi::Function::New(env, IsDone, "isDone"));
  exports.Set("distributed", d);
}

}  // namespace cr::napi
