// Device control for the N-API layer in builds with the CUDA part (see control.h).
#include "control.h"

#include "dynload.h"
#include "conv_algos.h"
#include "conv_bn_stats.h"
#include "fallback.h"
#include "graph.h"
#include "kernels/bn_fused.h"
#include "ops.h"
#include "runtime.h"
#include "upload.h"

namespace cr::cuda {

Tensor copyToDevice(const Tensor& t, Device device) {
  return t.device == device ? t : toDevice(t, device);
}
void copyBetween(Tensor& dst, const Tensor& src) { copyInto(dst, src); }

struct HostCopy {
  Tensor cpu;                                // set when the tensor was on the CPU
  std::unique_ptr<PendingHostCopy> pending;  // set when it was on the GPU
};
std::shared_ptr<HostCopy> startHostCopy(const Tensor& t) {
  auto copy = std::make_shared<HostCopy>();
  if (t.device == Device::CPU) copy->cpu = t;
  else copy->pending = std::make_unique<PendingHostCopy>(t);
  return copy;
}
Tensor finishHostCopy(const std::shared_ptr<HostCopy>& copy) {
  return copy->pending ? copy->pending->wait() : copy->cpu;
}

MemoryReport memoryReport() {
  DeviceMemoryStats s = memoryStats();
  return {s.allocatedBytes, s.reservedBytes, s.peakAllocatedBytes, s.allocations, s.cacheHits, s.deviceMallocs};
}
void emptyDeviceCache() {
  refuseDuringCapture("emptyCache", "memory cannot be returned to the driver then");
  releaseUploadBuffers();
  releaseWorkspace();
  releasePinnedBuffers();
  emptyCache();
}
void resetPeakMemory() { resetPeak(); }
void synchronizeDevice() { synchronize(); }
FusedConvReport fusedConvPlans() {
  FusedConvPlanStats s = fusedConvPlanStats();
  return {s.plans, s.unsupported, s.hits, s.lastReason, s.intermediates};
}
void forceCudnnStatus(const std::string& site, int status) { forceStatus(site, status); }

LibraryInfo cudnnReport() { return cudnnLibrary(); }
LibraryInfo cublasReport() { return cublasLibrary(); }

}  // namespace cr::cuda
