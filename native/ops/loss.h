// The cross-entropy ops' contract, the same on every device (cpu/loss.cc and cuda/kernels/loss.cu
// check with it). The labels' range is not part of it: the CPU checks it as it reads them, the GPU
// only when asked (a read-back).
#pragma once
#include "../core/tensor.h"

namespace cr {

// crossEntropy's result: the scalar loss and the softmax probabilities (N, K) its backward needs.
struct CrossEntropyResult { Tensor loss, probs; };
// The argument checks shared by the CPU ops and their CUDA twins (not the labels' range):
// logits (N, K) float32 with N, K > 0 and labels (N) int32 / int64, both on `device`; the
// smoothing in [0, 1] (crossEntropy only; pass 0 from the backward).
void checkCrossEntropyArgs(const char* op, const char* logitsName, const Tensor& logits, const Tensor& labels,
                           double smoothing, Device device);
// crossEntropyBackward's gradOutput: a one-element float32 tensor on `device`.
void checkLossGradient(const Tensor& gradOutput, Device device);

}  // namespace cr
