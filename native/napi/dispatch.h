// CR_DISPATCH(device, fn, args...) calls cuda::fn on GPU tensors and cr::fn on CPU ones (the CUDA
// twins in native/cuda/ops.h share the CPU names). A build without its CUDA part has no GPU
// tensors, so it calls cr::fn only.
#pragma once
#include "../cuda/ops.h"

#if CUDNN_RESNET_WITH_CUDA
#define CR_DISPATCH(device, fn, ...) ((device) == ::cr::Device::CUDA ? ::cr::cuda::fn(__VA_ARGS__) : ::cr::fn(__VA_ARGS__))
#else
#define CR_DISPATCH(device, fn, ...) ((void)(device), ::cr::fn(__VA_ARGS__))
#endif
