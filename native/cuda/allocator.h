// The caching device allocator behind CUDA storage (allocator.cu); its statistics and cache
// control are declared in runtime.h.
#pragma once
#include "../core/tensor.h"

namespace cr::cuda {

Allocator& deviceAllocator();

}  // namespace cr::cuda
