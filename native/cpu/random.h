// Counter-based random fills: element i of a fill seeded with `seed` depends only on (seed, i),
// so results are deterministic whatever the thread count.
#pragma once
#include "../core/tensor.h"

namespace cr {

Tensor randomUniform(const Shape& shape, uint64_t seed, double low, double high);
Tensor randomNormal(const Shape& shape, uint64_t seed, double mean, double stddev);

}  // namespace cr
