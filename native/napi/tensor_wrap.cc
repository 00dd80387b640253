#include "tensor_wrap.h"

#include <cstring>

#include "../cuda/control.h"
#include "convert.h"
#include "dispatch.h"

namespace cr::napi {
namespace {

// Random 128-bit tag that marks objects made by TensorWrap.
const napi_type_tag kTensorTag = {0x6a1f2c9e4d8b4a11ull, 0x9c3e7f5a2b6d4e80ull};

struct InstanceData {
  Napi::FunctionReference constructor;
};

bool hasTensorTag(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  bool result = false;
  napi_status status = napi_check_object_type_tag(v.Env(), v, &kTensorTag, &result);
  return status == napi_ok && result;
}

}  // namespace

void TensorWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {InstanceMethod<&TensorWrap::Dispose>("dispose"),
                                     InstanceMethod<&TensorWrap::Alias>("alias"),
                                     InstanceAccessor<&TensorWrap::GetShape>("shape"),
                                     InstanceAccessor<&TensorWrap::GetDType>("dtype"),
                                     InstanceAccessor<&TensorWrap::GetFormat>("format"),
                                     InstanceAccessor<&TensorWrap::GetDevice>("device"),
                                     InstanceAccessor<&TensorWrap::GetDisposed>("disposed"),
                                     InstanceAccessor<&TensorWrap::GetNbytes>("nbytes")});
  auto* data = new InstanceData();
  data->constructor = Napi::Persistent(ctor);
  env.SetInstanceData(data);
  exports.Set("NativeTensor", ctor);
}

Napi::Object TensorWrap::New(Napi::Env env, Tensor tensor) {
  auto* data = env.GetInstanceData<InstanceData>();
  Napi::Object obj = data->constructor.New({Napi::External<Tensor>::New(env, &tensor)});
  return obj;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed from JS; use the creation functions");
  tensor_ = *info[0].As<Napi::External<Tensor>>().Data();
  live_ = true;
  countTensor(+1);
  napi_type_tag_object(info.Env(), info.This(), &kTensorTag);
}

TensorWrap::~TensorWrap() { Release(); }

void TensorWrap::Release() {
  if (!live_) return;
  live_ = false;
  tensor_ = Tensor();
  countTensor(-1);
}

Tensor* TensorWrap::Live(const Napi::Value& v, const char* what) {
  if (!hasTensorTag(v)) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a tensor");
  TensorWrap* wrap = Napi::ObjectWrap<TensorWrap>::Unwrap(v.As<Napi::Object>());
  if (!wrap->live_) throw Napi::TypeError::New(v.Env(), std::string(what) + " was disposed");
  return &wrap->tensor_;
}

const Tensor& TensorWrap::Get(const Napi::Value& v, const char* what) { return *Live(v, what); }

Tensor* TensorWrap::GetMutable(const Napi::Value& v, const char* what) {
  Tensor* t = Live(v, what);
  if (t->storage) t->storage->version.fetch_add(1);  // the caller writes into it: derived values expire
  return t;
}

const Tensor* TensorWrap::Peek(const Napi::Value& v) {
  if (!hasTensorTag(v)) return nullptr;
  TensorWrap* wrap = Napi::ObjectWrap<TensorWrap>::Unwrap(v.As<Napi::Object>());
  return wrap->live_ ? &wrap->tensor_ : nullptr;
}

const Tensor* TensorWrap::GetOptional(const Napi::Value& v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return &Get(v, what);
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::Alias(const Napi::CallbackInfo& info) {
  if (!live_) throw Napi::TypeError::New(info.Env(), "alias: the tensor was disposed");
  return New(info.Env(), tensor_);
}

Napi::Value TensorWrap::GetShape(const Napi::CallbackInfo& info) { return fromShape(info.Env(), tensor_.shape); }
Napi::Value TensorWrap::GetDType(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtypeName(tensor_.dtype));
}
Napi::Value TensorWrap::GetFormat(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), formatName(tensor_.format));
}
Napi::Value TensorWrap::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensor_.device == Device::CUDA ? "cuda" : "cpu");
}
Napi::Value TensorWrap::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !live_); }
Napi::Value TensorWrap::GetNbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), live_ ? static_cast<double>(tensor_.nbytes()) : 0);
}

namespace {

// The JS typed array that carries a dtype across the boundary: float types travel as
// Float32Array (float16 / bfloat16 are converted), integers as their own array type.
napi_typedarray_type transportType(DType d) {
  switch (d) {
    case DType::Int32: return napi_int32_array;
    case DType::Int64: return napi_bigint64_array;
    case DType::UInt8: return napi_uint8_array;
    default: return napi_float32_array;
  }
}
DType transportDType(DType d) {
  return (d == DType::Float16 || d == DType::BFloat16) ? DType::Float32 : d;
}

Napi::Value FromArray(const Napi::CallbackInfo& info) {
  return guarded(info, "tensor", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Shape shape = toShape(info[1], "shape");
    DType dtype = parseDType(toString(info[2], "dtype"));
    MemoryFormat format = parseFormat(toString(info[3], "memoryFormat"));
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "tensor: data must be a typed array");
    Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
    DType carrier = transportDType(dtype);
    if (arr.TypedArrayType() != transportType(dtype))
      throw Napi::TypeError::New(env, std::string("tensor: data for dtype ") + dtypeName(dtype) +
                                          " must be a " +
                                          (carrier == DType::Float32 ? "Float32Array"
                                           : carrier == DType::Int32 ? "Int32Array"
                                           : carrier == DType::Int64 ? "BigInt64Array"
                                                                     : "Uint8Array"));
    int64_t n = numelOf(shape);
    if (static_cast<int64_t>(arr.ElementLength()) != n)
      throw Napi::RangeError::New(env, "tensor: " + std::to_string(arr.ElementLength()) +
                                           " values cannot fill shape " + shapeString(shape) + " (" +
                                           std::to_string(n) + " elements)");
    // Data arrives in logical (NCHW) order; channelsLast storage is made by a conversion.
    Tensor t = empty(shape, carrier);
    const char* src = static_cast<const char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    std::memcpy(t.storage->data, src, t.nbytes());
    if (carrier != dtype) t = cast(t, dtype);
    if (format != MemoryFormat::Contiguous) t = toFormat(t, format);
    return TensorWrap::New(env, cuda::copyToDevice(t, deviceArg(info[4])));
  });
}

Napi::Value TypedArrayOf(Napi::Env env, const Tensor& logical) {
  size_t n = static_cast<size_t>(logical.numel());
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, logical.nbytes());
  std::memcpy(buf.Data(), logical.storage->data, logical.nbytes());
  napi_value array;
  napi_status status = napi_create_typedarray(env, transportType(logical.dtype), n, buf, 0, &array);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, array);
}

// The tensor on the host, in logical order and transport dtype (a copy only where needed).
Tensor forTransport(const Tensor& t) {
  Tensor out = contiguous(cuda::copyToDevice(t, Device::CPU));
  DType carrier = transportDType(t.dtype);
  return carrier == t.dtype ? out : cast(out, carrier);
}

Napi::Value ToArray(const Napi::CallbackInfo& info) {
  return guarded(info, "toArray", [&]() -> Napi::Value {
    return TypedArrayOf(info.Env(), forTransport(TensorWrap::Get(info[0], "tensor")));
  });
}

// data(): a GPU tensor's copy is queued at the call (after the work that made it, before any
// queued later) and waited for on a worker thread, so neither the event loop nor later GPU work
// waits for it.
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, const Tensor& t)
      : Napi::AsyncWorker(env), copy_(cuda::startHostCopy(t)), deferred_(env) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = forTransport(cuda::finishHostCopy(copy_));
      copy_.reset();
    } catch (const std::exception& e) {
      SetError(std::string("data: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(TypedArrayOf(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<cuda::HostCopy> copy_;
  Tensor result_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value ReadAsync(const Napi::CallbackInfo& info) {
  return guarded(info, "data", [&]() -> Napi::Value {
    auto* worker = new ReadWorker(info.Env(), TensorWrap::Get(info[0], "tensor"));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value Cast(const Napi::CallbackInfo& info) {
  return guarded(info, "to", [&]() -> Napi::Value {
    const Tensor& t = TensorWrap::Get(info[0], "tensor");
    return TensorWrap::New(info.Env(), CR_DISPATCH(t.device, cast, t, parseDType(toString(info[1], "dtype"))));
  });
}

Napi::Value ToFormat(const Napi::CallbackInfo& info) {
  return guarded(info, "to", [&]() -> Napi::Value {
    const Tensor& t = TensorWrap::Get(info[0], "tensor");
    return TensorWrap::New(info.Env(),
                           CR_DISPATCH(t.device, toFormat, t, parseFormat(toString(info[1], "memoryFormat"))));
  });
}

Napi::Value Clone(const Napi::CallbackInfo& info) {
  return guarded(info, "clone", [&]() -> Napi::Value {
    const Tensor& t = TensorWrap::Get(info[0], "tensor");
    return TensorWrap::New(info.Env(), CR_DISPATCH(t.device, toFormat, t, t.format));
  });
}

Napi::Value View(const Napi::CallbackInfo& info) {
  return guarded(info, "view", [&]() -> Napi::Value {
    const Tensor& t = TensorWrap::Get(info[0], "tensor");
    Tensor flat = t.format == MemoryFormat::Contiguous ? t : CR_DISPATCH(t.device, toFormat, t, MemoryFormat::Contiguous);
    return TensorWrap::New(info.Env(), view(flat, toShape(info[1], "shape")));
  });
}

// copyInto(dst, src): overwrites dst's elements with src's (same shape and dtype), in place.
Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  return guarded(info, "copy", [&]() -> Napi::Value {
    Tensor* dst = TensorWrap::GetMutable(info[0], "destination");
    const Tensor& src = TensorWrap::Get(info[1], "source");
    CR_CHECK_RANGE(dst->shape == src.shape && dst->dtype == src.dtype, "copy: source ", shapeString(src.shape), " ",
                   dtypeName(src.dtype), " does not match destination ", shapeString(dst->shape), " ",
                   dtypeName(dst->dtype));
    Tensor same = src.format == dst->format ? src : CR_DISPATCH(src.device, toFormat, src, dst->format);
    if (same.storage == dst->storage) return info.Env().Undefined();
    if (dst->device == Device::CPU && same.device == Device::CPU)
      std::memcpy(dst->storage->data, same.storage->data, dst->nbytes());
    else
      cuda::copyBetween(*dst, same);
    return info.Env().Undefined();
  });
}

// toDevice(t, 'cpu' | 'cuda'): a copy on that device (same dtype, shape and memory format).
Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  return guarded(info, "to", [&]() -> Napi::Value {
    const Tensor& t = TensorWrap::Get(info[0], "tensor");
    Device device = deviceArg(info[1]);
    CR_CHECK(device != t.device, "to: the tensor is already on that device");
    return TensorWrap::New(info.Env(), cuda::copyToDevice(t, device));
  });
}

}  // namespace

void InitTensorFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("fromArray", Napi::Function::New(env, FromArray, "fromArray"));
  exports.Set("toArray", Napi::Function::New(env, ToArray, "toArray"));
  exports.Set("readAsync", Napi::Function::New(env, ReadAsync, "readAsync"));
  exports.Set("cast", Napi::Function::New(env, Cast, "cast"));
  exports.Set("toFormat", Napi::Function::New(env, ToFormat, "toFormat"));
  exports.Set("clone", Napi::Function::New(env, Clone, "clone"));
  exports.Set("view", Napi::Function::New(env, View, "view"));
  exports.Set("copyInto", Napi::Function::New(env, CopyInto, "copyInto"));
  exports.Set("toDevice", Napi::Function::New(env, ToDevice, "toDevice"));
}

}  // namespace cr::napi
