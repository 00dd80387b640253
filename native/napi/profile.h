// The per-op profiler behind rn.profiler. Every op function of the addon is registered through
// profiledFunction(); while profiling is on, each call is counted and timed under the op's name
// and the device of its tensors: host time with a steady clock around the call (on the CPU the
// op's whole time, on the GPU its launch overhead) and, for ops on GPU tensors, device time from
// an event pair on the backend's stream (cuda/device_timer.h), read when the report is asked for.
// While profiling is off a call costs one branch (and one indirect call) more than the op itself.
#pragma once
#include <napi.h>

namespace cr::napi {

class Profiler;

// Makes this environment's profiler and registers its control function:
//   profiler('enable' | 'disable' | 'reset')  and  profiler('report') -> { ops, skippedCalls }.
Profiler& InitProfiler(Napi::Env env, Napi::Object exports);
// The op function `fn`, named `name`, timed by `profiler` while profiling is on; a native error it
// throws becomes a JS error that starts with `name`.
Napi::Function profiledFunction(Napi::Env env, Profiler& profiler, const char* name, Napi::Function::Callback fn);

}  // namespace cr::napi
