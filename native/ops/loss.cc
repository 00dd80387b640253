#include "loss.h"

#include "../core/error.h"

namespace cr {

void checkCrossEntropyArgs(const char* op, const char* logitsName, const Tensor& logits, const Tensor& labels,
                           double smoothing, Device device) {
  expectFloat32On(device, op, logitsName, logits);
  expectDim(op, logitsName, logits, 2);
  int64_t n = logits.shape[0], k = logits.shape[1];
  CR_CHECK_RANGE(n > 0 && k > 0, op, ": ", logitsName, " must have a non-empty batch and at least one class");
  CR_CHECK_RANGE(smoothing >= 0 && smoothing <= 1, op, ": labelSmoothing must be in [0, 1], got ", smoothing);
  CR_CHECK_TYPE(labels.dtype == DType::Int32 || labels.dtype == DType::Int64, op,
                ": labels must be int32 or int64, got ", dtypeName(labels.dtype));
  CR_CHECK_TYPE(labels.device == device, op, ": labels", device == Device::CPU ? " must be on the CPU" : " must be on the GPU");
  expectShape(op, "labels", labels, {n});
}

void checkLossGradient(const Tensor& gradOutput, Device device) {
  CR_CHECK_TYPE(gradOutput.device == device, "crossEntropyBackward: the gradient must be on the device of probs");
  CR_CHECK_TYPE(gradOutput.dtype == DType::Float32, "crossEntropyBackward: the gradient must be float32, got ",
                dtypeName(gradOutput.dtype));
  CR_CHECK_RANGE(gradOutput.numel() == 1, "crossEntropyBackward: the gradient must hold one element, got ",
                 gradOutput.numel());
}

}  // namespace cr
