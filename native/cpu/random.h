// Counter-based random fills: element i of a fill seeded with `seed` depends only on (seed, i),
// so results are deterministic whatever the thread count.
#pragma once
#include "../core/tensor.h"

namespace cr {

#include "../ops/random_ops.inc"

}  // namespace cr
