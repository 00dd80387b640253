// Argument conversion between JS values and native types, and the one place where
// native errors become JS exceptions (TypeError / RangeError / Error naming the op).
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../core/library_search.h"
#include "../core/tensor.h"

namespace cr::napi {

Shape toShape(const Napi::Value& v, const char* what);
std::vector<int64_t> toInt64s(const Napi::Value& v, const char* what);
Napi::Array fromShape(Napi::Env env, const Shape& shape);
int64_t toInt64(const Napi::Value& v, const char* what);
double toDouble(const Napi::Value& v, const char* what);
bool toBool(const Napi::Value& v, const char* what);
std::string toString(const Napi::Value& v, const char* what);
// 'cpu' | 'cuda'; undefined / null mean the CPU.
Device deviceArg(const Napi::Value& v);
// { loaded, path, version } or { loaded, reason }, with builtForCuda when known and searched[].
Napi::Object libraryObject(Napi::Env env, const LibraryInfo& library);

// Throws the JS error that matches a native failure of `op`.
[[noreturn]] void rethrow(Napi::Env env, const char* op);

// Runs body(), converting any native exception into a JS exception that names `op`.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* op, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow(info.Env(), op);
  }
}

}  // namespace cr::napi
