// Device control for the N-API layer: copies between devices, the device memory report, the
// cache, synchronisation, and what was loaded. This header needs no CUDA headers; control.cc
// implements it in builds with the CUDA part, control_none.cc in builds without (where copies to
// the GPU throw the reason and the report is empty).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/library_search.h"
#include "../core/tensor.h"

namespace cr::cuda {

// A copy of t on `device` (same dtype, shape, memory format); t itself when already there.
Tensor copyToDevice(const Tensor& t, Device device);
// dst = src for tensors of one shape, dtype and memory format, on any devices.
void copyBetween(Tensor& dst, const Tensor& src);

// A device-to-host copy started now (queued on the stream after the work that made t) and
// finished later, on any thread: finishHostCopy waits for that copy alone, not for work queued
// after it. For tensors on the CPU, finishHostCopy returns the tensor itself. On a worker thread
// it makes only event calls (synchronise, destroy) and host copies; the project never calls
// cudaSetDevice, so every thread's current device is the same device 0 and its primary context.
struct HostCopy;
std::shared_ptr<HostCopy> startHostCopy(const Tensor& t);
Tensor finishHostCopy(const std::shared_ptr<HostCopy>& copy);

struct MemoryReport {
  int64_t allocatedBytes = 0, reservedBytes = 0, peakAllocatedBytes = 0;
  int64_t allocations = 0, cacheHits = 0, deviceMallocs = 0;
};
MemoryReport memoryReport();
void emptyDeviceCache();
void resetPeakMemory();
void synchronizeDevice();

// The settings, each under the one name it has from rn.cuda to its implementation (declared
// again here, without CUDA headers, as conv2d.cc, conv_algos.h and kernels/bn_fused.h declare them).
// TF32 tensor-core math for float32 convolutions and matmul.
void setAllowTf32(bool allow);
bool allowTf32();
// Only deterministic cuDNN convolution algorithms (bit-identical reruns), at some cost in speed.
void setDeterministic(bool deterministic);
bool deterministic();
// Training-mode batch norm (and its fused residual tails) through the project's fused kernels
// (true) or cuDNN (false).
void setBatchNormKernels(bool fused);
bool batchNormKernelsFused();

// The fused convolution's plan cache (conv_bn_stats.h): plans, unsupported configurations, hits,
// and why the latest unsupported one was.
struct FusedConvReport {
  int64_t plans = 0, unsupported = 0, hits = 0;
  std::string lastReason;
  std::string intermediates;  // the prologue intermediates' dtype in the plans built ("float32", ...)
};
FusedConvReport fusedConvPlans();

// CUDA graphs, by graph id (declared with these names in graph.h).
int64_t beginCapture();
void endCapture(int64_t graph);
void abortCapture(int64_t graph);
void replayGraph(int64_t graph);
void destroyGraph(int64_t graph);

// Test-only (fallback.h): every later cuDNN call at `site` returns `status` (0 clears it).
void forceCudnnStatus(const std::string& site, int status);

// Where cuDNN / cuBLAS were loaded from, or why not (without the CUDA part: that it is absent).
LibraryInfo cudnnReport();
LibraryInfo cublasReport();

}  // namespace cr::cuda
