// The device timer in a build without the CUDA part: no work is ever queued on a GPU, so
// nothing is recorded (see device_timer.h).
#include "device_timer.h"

namespace cr::cuda {

struct DeviceTimer::Impl {};

DeviceTimer::DeviceTimer() = default;
DeviceTimer::~DeviceTimer() = default;
DeviceTimer::Start DeviceTimer::start() { return Start::Unused; }
void DeviceTimer::finish(int) {}
void DeviceTimer::collect(std::vector<double>&) {}
void DeviceTimer::clear() {}

}  // namespace cr::cuda
