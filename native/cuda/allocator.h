// The caching device allocator behind CUDA storage (allocator.cu); its statistics and cache
// control are declared in runtime.h.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace cr::cuda {

Allocator& deviceAllocator();

// Private pools for CUDA graphs (see allocator.cu). 0 is the general cache.
using PoolId = uint64_t;
PoolId createPool();
// Every allocation and free goes to `pool` from now on (0: back to normal).
void setActivePool(PoolId pool);
// The pool's blocks return to the general cache (its cached ones now, its live ones when freed).
void retirePool(PoolId pool);

}  // namespace cr::cuda
