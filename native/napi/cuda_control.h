// Registers the GPU's settings and controls (cuda_control.cc) on the addon's exports.
#pragma once
#include <napi.h>

namespace cr::napi {

void InitCudaControl(Napi::Env env, Napi::Object exports);

}  // namespace cr::napi
