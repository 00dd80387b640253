// Device control in a build without the CUDA part: nothing lives on a GPU, so copies to one
// throw the reason and the memory report is zero.
#include "control.h"

#include "../core/error.h"

namespace cr::cuda {
namespace {
const char* kNoCuda = "this build of the addon has no CUDA part (nvcc was not found when it was built)";
}

Tensor copyToDevice(const Tensor& t, Device device) {
  CR_CHECK(device == Device::CPU && t.device == Device::CPU, "to('cuda'): ", kNoCuda);
  return t;
}
void copyBetween(Tensor& dst, const Tensor& src) {
  CR_CHECK(dst.device == Device::CPU && src.device == Device::CPU, "copy: ", kNoCuda);
  CR_CHECK(false, "copyBetween is only used for device copies");
}
struct HostCopy {
  Tensor t;
};
std::shared_ptr<HostCopy> startHostCopy(const Tensor& t) { return std::make_shared<HostCopy>(HostCopy{t}); }
Tensor finishHostCopy(const std::shared_ptr<HostCopy>& copy) { return copy->t; }

MemoryReport memoryReport() { return {}; }
void emptyDeviceCache() {}
void resetPeakMemory() {}
void synchronizeDevice() {}
void setAllowTf32(bool) {}
bool allowTf32() { return false; }
void setDeterministic(bool) {}
bool deterministic() { return false; }
void setBatchNormKernels(bool) {}
bool batchNormKernelsFused() { return false; }
FusedConvReport fusedConvPlans() { return {}; }
int64_t beginCapture() {
  CR_CHECK(false, "CUDA graph capture: ", kNoCuda);
  return 0;
}
void endCapture(int64_t) { CR_CHECK(false, "CUDA graph capture: ", kNoCuda); }
void abortCapture(int64_t) {}
void replayGraph(int64_t) { CR_CHECK(false, "CUDA graph replay: ", kNoCuda); }
void destroyGraph(int64_t) {}
void forceCudnnStatus(const std::string&, int) { CR_CHECK(false, "forceCudnnStatus: ", kNoCuda); }
LibraryInfo cudnnReport() {
  LibraryInfo info;
  info.reason = kNoCuda;
  return info;
}
LibraryInfo cublasReport() { return cudnnReport(); }

}  // namespace cr::cuda
