// Device time of queued GPU work, for the profiler: an event pair recorded on the backend's
// stream around a piece of work, resolved into milliseconds later (when the report is asked
// for), never by waiting inside the work's call. This header needs no CUDA headers;
// device_timer.cc implements it in builds with the CUDA part, device_timer_none.cc in builds
// without (where nothing is ever recorded).
#pragma once
#include <memory>
#include <vector>

namespace cr::cuda {

class DeviceTimer {
 public:
  enum class Start {
    Recorded,   // a start event is on the stream; finish() records its end
    Unused,     // the CUDA backend is not running (or cannot record), nothing recorded
    Capturing,  // the stream is being captured into a CUDA graph: nothing may be recorded
  };

  DeviceTimer();
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  // Records the start event of one piece of work on the backend's stream.
  Start start();
  // Records the end event of the work started last; its time goes to msByKey[key] on collect().
  void finish(int key);
  // Adds the milliseconds of every recorded pair to msByKey[key] (growing it as needed), waiting
  // for the pairs still in flight; the events go back to the pool. Throws while the stream is
  // being captured (the events cannot be waited for then).
  void collect(std::vector<double>& msByKey);
  // Forgets every pair not collected yet.
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cr::cuda
