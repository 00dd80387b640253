// Registers the op functions (forward and backward primitives) on the addon's exports.
#pragma once
#include <napi.h>

namespace cr::napi {
void InitOps(Napi::Env env, Napi::Object exports);
}
