// The per-op profiler (see profile.h). Times are kept per (op, device) slot: slot = 2 * op index
// + (1 on the GPU). Calls made while the stream is being captured into a CUDA graph queue no
// work of their own (the graph's replays do), so they are left out and only counted.
#include "profile.h"

#include <chrono>
#include <deque>
#include <vector>

#include "../cuda/device_timer.h"
#include "convert.h"
#include "tensor_wrap.h"

namespace cr::napi {

class Profiler {
 public:
  struct Op {
    Profiler* profiler;
    const char* name;
    Napi::Function::Callback fn;
    int index;
  };
  struct Slot {
    int64_t calls = 0;
    double hostMs = 0;
  };

  bool on = false;
  std::deque<Op> ops;             // stable addresses: each op function holds a pointer to its Op
  std::vector<Slot> slots;        // by slot
  std::vector<double> deviceMs;   // by slot, filled from the device timer at report time
  int64_t skippedCalls = 0;       // calls made during a CUDA graph capture
  cuda::DeviceTimer timer;

  Napi::Value timedCall(const Op& op, const Napi::CallbackInfo& info);
  void reset() {
    slots.assign(slots.size(), Slot{});
    deviceMs.assign(deviceMs.size(), 0.0);
    skippedCalls = 0;
    timer.clear();
  }
  Napi::Value report(Napi::Env env);
};

namespace {

// The device of a call: that of its first tensor argument (or of the first element of an array
// argument), else 'cuda' when a device argument names it (creation ops), else the CPU.
Device deviceOfCall(const Napi::CallbackInfo& info) {
  bool namesCuda = false;
  for (size_t i = 0; i < info.Length(); ++i) {
    Napi::Value v = info[i];
    if (v.IsArray()) {
      Napi::Array items = v.As<Napi::Array>();
      if (items.Length() == 0) continue;
      v = items.Get(0u);
    }
    if (const Tensor* t = TensorWrap::Peek(v)) return t->device;
    if (v.IsString() && v.As<Napi::String>().Utf8Value() == "cuda") namesCuda = true;
  }
  return namesCuda ? Device::CUDA : Device::CPU;
}

// A native error becomes a JS one prefixed with the op's registered name (once: a message that
// already starts with it keeps its own).
Napi::Value callOp(const Napi::CallbackInfo& info) {
  const auto& op = *static_cast<const Profiler::Op*>(info.Data());
  try {
    return op.profiler->on ? op.profiler->timedCall(op, info) : op.fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow(info.Env(), op.name);
  }
}

}  // namespace

Napi::Value Profiler::timedCall(const Op& op, const Napi::CallbackInfo& info) {
  using Clock = std::chrono::steady_clock;
  const bool onGpu = deviceOfCall(info) == Device::CUDA;
  const auto start = onGpu ? timer.start() : cuda::DeviceTimer::Start::Unused;
  if (start == cuda::DeviceTimer::Start::Capturing) {
    ++skippedCalls;
    return op.fn(info);
  }
  const int slot = 2 * op.index + (onGpu ? 1 : 0);
  const Clock::time_point t0 = Clock::now();
  // Recorded whether the op returns or throws: the time was spent either way.
  auto record = [&] {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (start == cuda::DeviceTimer::Start::Recorded) timer.finish(slot);
    slots[slot].calls += 1;
    slots[slot].hostMs += ms;
  };
  try {
    Napi::Value result = op.fn(info);
    record();
    return result;
  } catch (...) {
    record();
    throw;
  }
}

// [{ op, device, calls, hostMs, deviceMs? }] for every (op, device) called since the last reset.
Napi::Value Profiler::report(Napi::Env env) {
  timer.collect(deviceMs);
  Napi::Array entries = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t slot = 0; slot < slots.size(); ++slot) {
    if (slots[slot].calls == 0) continue;
    const bool onGpu = slot % 2 == 1;
    Napi::Object e = Napi::Object::New(env);
    e.Set("op", ops[slot / 2].name);
    e.Set("device", onGpu ? "cuda" : "cpu");
    e.Set("calls", static_cast<double>(slots[slot].calls));
    e.Set("hostMs", slots[slot].hostMs);
    if (onGpu) e.Set("deviceMs", slot < deviceMs.size() ? deviceMs[slot] : 0.0);
    entries.Set(n++, e);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ops", entries);
  out.Set("skippedCalls", static_cast<double>(skippedCalls));
  return out;
}

Profiler& InitProfiler(Napi::Env env, Napi::Object exports) {
  auto* profiler = new Profiler();
  napi_add_env_cleanup_hook(env, [](void* p) { delete static_cast<Profiler*>(p); }, profiler);
  Napi::Function control = Napi::Function::New(
      env,
      [profiler](const Napi::CallbackInfo& info) -> Napi::Value {
        return guarded(info, "profiler", [&]() -> Napi::Value {
          std::string action = toString(info[0], "action");
          if (action == "enable") profiler->on = true;
          else if (action == "disable") profiler->on = false;
          else if (action == "reset") profiler->reset();
          else if (action == "report") return profiler->report(info.Env());
          else CR_CHECK_TYPE(false, "profiler: unknown action '", action, "'");
          return info.Env().Undefined();
        });
      },
      "profiler");
  exports.Set("profiler", control);
  return *profiler;
}

Napi::Function profiledFunction(Napi::Env env, Profiler& profiler, const char* name, Napi::Function::Callback fn) {
  const int index = static_cast<int>(profiler.ops.size());
  profiler.ops.push_back({&profiler, name, fn, index});
  profiler.slots.resize(2 * profiler.ops.size());
  return Napi::Function::New(env, callOp, name, &profiler.ops.back());
}

}  // namespace cr::napi
