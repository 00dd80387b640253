#include "convert.h"

#include <cmath>
#include <new>

namespace cr::napi {

int64_t toInt64(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an integer");
  return static_cast<int64_t>(d);
}

double toDouble(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool toBool(const Napi::Value& v, const char* what) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string toString(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Device deviceArg(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return Device::CPU;
  std::string name = toString(v, "device");
  if (name != "cpu" && name != "cuda")
    throw Napi::TypeError::New(v.Env(), "device must be 'cpu' or 'cuda', got '" + name + "'");
  return name == "cuda" ? Device::CUDA : Device::CPU;
}

std::vector<int64_t> toInt64s(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = toInt64(arr.Get(i), what);
  return out;
}

Shape toShape(const Napi::Value& v, const char* what) { return toInt64s(v, what); }

Napi::Array fromShape(Napi::Env env, const Shape& shape) {
  Napi::Array arr = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) arr.Set(static_cast<uint32_t>(i), static_cast<double>(shape[i]));
  return arr;
}

void rethrow(Napi::Env env, const char* op) {
  try {
    throw;
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(op, 0) != 0) msg = std::string(op) + ": " + msg;
    if (e.kind == ErrorKind::Type) throw Napi::TypeError::New(env, msg);
    if (e.kind == ErrorKind::Range) throw Napi::RangeError::New(env, msg);
    throw Napi::Error::New(env, msg);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(op) + ": out of host memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(op) + ": " + e.what());
  }
}

Napi::Object libraryObject(Napi::Env env, const LibraryInfo& library) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", library.loaded);
  if (library.loaded) {
    o.Set("path", library.path);
    o.Set("version", library.version);
  } else {
    o.Set("reason", library.reason);
  }
  if (!library.builtForCuda.empty()) o.Set("builtForCuda", library.builtForCuda);
  Napi::Array searched = Napi::Array::New(env, library.searched.size());
  for (size_t i = 0; i < library.searched.size(); ++i) searched.Set(static_cast<uint32_t>(i), library.searched[i]);
  o.Set("searched", searched);
  return o;
}

}  // namespace cr::napi
