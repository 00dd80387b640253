// Softmax cross-entropy with integer class labels, mean over the batch, optional label smoothing.
#pragma once
#include "../core/tensor.h"
#include "../ops/loss.h"

namespace cr {

#include "../ops/loss_ops.inc"

}  // namespace cr
