// Softmax cross-entropy with integer class labels, mean over the batch, optional label smoothing.
#pragma once
#include "../core/tensor.h"

namespace cr {

// logits: (N, K) float32, labels: (N) int32 or int64 in [0, K). Returns the scalar loss and the
// softmax probabilities (N, K) that the backward pass needs.
struct CrossEntropyResult { Tensor loss, probs; };
// checkLabels: whether the GPU op range-checks the labels (a read-back that waits for the GPU;
// unchecked, a bad label gives a NaN loss). The CPU op always checks them.
CrossEntropyResult crossEntropy(const Tensor& logits, const Tensor& labels, double labelSmoothing,
                                       bool checkLabels = true);
// dlogits (N, K) = gradOutput * (probs - target) / N, target = (1 - s) one-hot + s / K.
// gradOutput: the loss's gradient, a one-element float32 tensor on the probs' device (read as the
// kernel runs, so that nothing is read back).
Tensor crossEntropyBackward(const Tensor& gradOutput, const Tensor& probs, const Tensor& labels, double labelSmoothing);
void checkLossGradient(const Tensor& gradOutput, Device device);
// The argument checks shared by the CPU ops and their CUDA twins (not the labels' range):
// logits (N, K) float32 with N, K > 0 and labels (N) int32 / int64, both on `device`; the
// smoothing in [0, 1] (crossEntropy only; pass 0 from the backward).
void checkCrossEntropyArgs(const char* op, const char* logitsName, const Tensor& logits, const Tensor& labels,
                           double smoothing, Device device);

}  // namespace cr
