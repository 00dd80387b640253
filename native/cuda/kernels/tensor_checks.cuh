// Argument checks of the CUDA ops: the same TypeErrors as the CPU ops' checks, with the device
// check asking for the GPU instead of the CPU.
#pragma once
#include "../../core/error.h"
#include "../../core/tensor.h"

namespace cr::cuda {

inline void expectGpu(const char* op, const char* arg, const Tensor& t) {
  CR_CHECK_TYPE(t.device == Device::CUDA, op, ": ", arg, " must be on the GPU");
}

// The dtype check of cr::expectFloat32, then the device check.
inline void expectFloat32Gpu(const char* op, const char* arg, const Tensor& t) {
  expectFloat32On(Device::CUDA, op, arg, t);
}

}  // namespace cr::cuda
