// Softmax cross-entropy with integer class labels, mean over the batch, optional label smoothing.
#pragma once
#include "../core/tensor.h"
#include "../ops/loss.h"

namespace cr {

// logits: (N, K) float32, labels: (N) int32 or int64 in [0, K). Returns the scalar loss and the
// softmax probabilities (N, K) that the backward pass needs.
// checkLabels: whether the GPU op range-checks the labels (a read-back that waits for the GPU;
// unchecked, a bad label gives a NaN loss). The CPU op always checks them.
CrossEntropyResult crossEntropy(const Tensor& logits, const Tensor& labels, double labelSmoothing,
                                       bool checkLabels = true);
// dlogits (N, K) = gradOutput * (probs - target) / N, target = (1 - s) one-hot + s / K.
// gradOutput: the loss's gradient, a one-element float32 tensor on the probs' device (read as the
// kernel runs, so that nothing is read back).
Tensor crossEntropyBackward(const Tensor& gradOutput, const Tensor& probs, const Tensor& labels, double labelSmoothing);

}  // namespace cr
