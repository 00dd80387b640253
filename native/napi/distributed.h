// Registers `distributed` (the process group's bindings) on the addon's exports.
#pragma once
#include <napi.h>

namespace cr::napi {
void InitDistributed(Napi::Env env, Napi::Object exports);
}
