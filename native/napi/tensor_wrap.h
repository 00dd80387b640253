// NativeTensor: the JS object that owns one reference to a native tensor. Instances carry a
// type tag, so no other object can be unwrapped as a tensor; dispose() frees the reference
// at once, and the garbage collector frees it otherwise.
#pragma once
#include <napi.h>

#include "../core/tensor.h"

namespace cr::napi {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object New(Napi::Env env, Tensor tensor);
  // The tensor behind a JS argument; TypeError when it is not a NativeTensor or was disposed.
  static const Tensor& Get(const Napi::Value& v, const char* what);
  // nullptr for undefined / null, otherwise as Get.
  static const Tensor* GetOptional(const Napi::Value& v, const char* what);
  // As Get, for an op that writes into the tensor in place: advances its storage's version, so that
  // values derived from the old contents (derivedFrom in tensor.h) are made again.
  static Tensor* GetMutable(const Napi::Value& v, const char* what);
  // The tensor behind v when v is a live NativeTensor, else nullptr (never throws).
  static const Tensor* Peek(const Napi::Value& v);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Alias(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetFormat(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetNbytes(const Napi::CallbackInfo& info);
  void Release();
  static Tensor* Live(const Napi::Value& v, const char* what);

  Tensor tensor_;
  bool live_ = false;
};

// Module-level functions: creation from and copies to JS typed arrays, casts, views.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);

}  // namespace cr::napi
