#include "loss.h"

#include <cmath>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {
namespace {

int64_t labelAt(const Tensor& labels, int64_t i) {
  return labels.dtype == DType::Int64 ? labels.data<int64_t>()[i] : labels.data<int32_t>()[i];
}

void checkLabelRange(const char* op, const Tensor& labels, int64_t n, int64_t k) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = labelAt(labels, i);
    CR_CHECK_RANGE(label >= 0 && label < k, op, ": label ", label, " at index ", i, " is outside [0, ", k, ")");
  }
}

}  // namespace

CrossEntropyResult crossEntropy(const Tensor& logits, const Tensor& labels, double smoothing, bool) {
  checkCrossEntropyArgs("crossEntropy", "logits", logits, labels, smoothing, Device::CPU);
  int64_t n = logits.shape[0], k = logits.shape[1];
  checkLabelRange("crossEntropy", labels, n, k);
  Tensor probs = empty({n, k});
  std::vector<double> rowLoss(n);
  const float* in = logits.f32();
  float* p = probs.f32();
  parallelFor(0, n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* row = in + i * k;  // (K)
      float maxLogit = row[0];
      for (int64_t j = 1; j < k; ++j) maxLogit = std::max(maxLogit, row[j]);
      double sumExp = 0, sumLogits = 0;
      for (int64_t j = 0; j < k; ++j) {
        sumExp += std::exp(static_cast<double>(row[j] - maxLogit));
        sumLogits += row[j];
      }
      double logZ = maxLogit + std::log(sumExp);
      for (int64_t j = 0; j < k; ++j) p[i * k + j] = static_cast<float>(std::exp(row[j] - logZ));
      double nll = logZ - row[labelAt(labels, i)];
      double uniform = logZ - sumLogits / static_cast<double>(k);  // mean over classes of -log p
      rowLoss[i] = (1 - smoothing) * nll + smoothing * uniform;
    }
  });
  double total = 0;
  for (double v : rowLoss) total += v;
  Tensor loss = empty({});
  loss.f32()[0] = static_cast<float>(total / static_cast<double>(n));
  return {loss, probs};
}

Tensor crossEntropyBackward(const Tensor& gradOutput, const Tensor& probs, const Tensor& labels, double smoothing) {
  checkLossGradient(gradOutput, Device::CPU);
  checkCrossEntropyArgs("crossEntropyBackward", "probs", probs, labels, 0, Device::CPU);
  int64_t n = probs.shape[0], k = probs.shape[1];
  checkLabelRange("crossEntropyBackward", labels, n, k);
  Tensor grad = empty({n, k});
  const float* p = probs.f32();
  float* g = grad.f32();
  double scale = static_cast<double>(gradOutput.f32()[0]) / static_cast<double>(n);
  double off = smoothing / static_cast<double>(k);
  parallelFor(0, n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t label = labelAt(labels, i);
      for (int64_t j = 0; j < k; ++j) {
        double target = off + (j == label ? 1 - smoothing : 0);
        g[i * k + j] = static_cast<float>(scale * (p[i * k + j] - target));
      }
    }
  });
  return grad;
}

}  // namespace cr
