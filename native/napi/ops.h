// Registers the op functions (forward and backward primitives) on the addon's exports, each
// wrapped by the profiler (profile.h).
#pragma once
#include <napi.h>

namespace cr::napi {
class Profiler;
void InitOps(Napi::Env env, Napi::Object exports, Profiler& profiler);
}
