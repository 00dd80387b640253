// Softmax cross-entropy on the GPU, the twin of native/cpu/loss.cc: one block per row computes a
// stable log-softmax (max subtracted, sums in double), the probabilities and the row's loss; a
// second one-block pass adds the rows' losses in double in a fixed order. A label outside
// [0, K) raises the CPU's RangeError in the forward pass: a kernel records the first bad index in
// a device flag, which the host reads back before returning (the one wait of the training step).
#include <cmath>
#include <limits>

#include "../graph.h"
#include "../ops.h"
#include "block_reduce.cuh"

namespace cr::cuda {
namespace {

constexpr unsigned long long kNoBadLabel = ~0ull;

template <typename Label>
__device__ inline bool labelOk(Label label, int64_t k) { return label >= 0 && static_cast<int64_t>(label) < k; }

// flag = the smallest index whose label is outside [0, k).
template <typename Label>
__global__ void checkLabelsKernel(const Label* labels, int64_t n, int64_t k, unsigned long long* flag) {
  CR_GRID_STRIDE(i, n) {
    if (!labelOk(labels[i], k)) atomicMin(flag, static_cast<unsigned long long>(i));
  }
}

// Row i of logits (N, K): probs = softmax, rowLoss = (1 - s) * nll + s * mean over classes of -log p.
// Rows with a bad label are left unread at the label (the host throws).
template <typename Label>
__global__ void crossEntropyRowsKernel(const float* logits, const Label* labels, float* probs, double* rowLoss,
                                       int64_t n, int64_t k, double smoothing) {
  __shared__ float maxScratch[kThreads];
  __shared__ double sumScratch[kThreads];
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* row = logits + i * k;  // (K)
    float maxLogit = -INFINITY;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) maxLogit = fmaxf(maxLogit, row[j]);
    maxLogit = blockReduce(maxLogit, maxScratch, MaxOf{});
    double sumExp = 0, sumLogits = 0;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
      sumExp += exp(static_cast<double>(__fsub_rn(row[j], maxLogit)));
      sumLogits += row[j];
    }
    sumExp = blockReduce(sumExp, sumScratch, SumOf{});
    sumLogits = blockReduce(sumLogits, sumScratch, SumOf{});
    double logZ = __dadd_rn(maxLogit, log(sumExp));
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x)
      probs[i * k + j] = static_cast<float>(exp(__dsub_rn(row[j], logZ)));
    if (threadIdx.x == 0) {
      Label label = labels[i];
      double nll = labelOk(label, k) ? __dsub_rn(logZ, row[label]) : NAN;
      double uniform = __dsub_rn(logZ, __ddiv_rn(sumLogits, static_cast<double>(k)));
      rowLoss[i] = __dadd_rn(__dmul_rn(1 - smoothing, nll), __dmul_rn(smoothing, uniform));
    }
  }
}

// loss = sum of rowLoss / n, one block.
__global__ void meanLossKernel(const double* rowLoss, int64_t n, float* loss) {
  __shared__ double scratch[kThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += rowLoss[i];
  acc = blockReduce(acc, scratch, SumOf{});
  if (threadIdx.x == 0) *loss = static_cast<float>(__ddiv_rn(acc, static_cast<double>(n)));
}

// dlogits = gradOutput / N * (probs - target), target = s / K + (1 - s) one-hot.
template <typename Label>
__global__ void crossEntropyBackwardKernel(const float* probs, const Label* labels, float* grad, int64_t n, int64_t k,
                                           const float* gradOutput, double smoothing, double off) {
  const double scale = __ddiv_rn(static_cast<double>(*gradOutput), static_cast<double>(n));
  CR_GRID_STRIDE(idx, n * k) {
    int64_t i = idx / k, j = idx % k;
    double target = __dadd_rn(off, j == static_cast<int64_t>(labels[i]) ? 1 - smoothing : 0);
    grad[idx] = static_cast<float>(__dmul_rn(scale, __dsub_rn(probs[idx], target)));
  }
}

// Queues the label range check; the flag holds the first bad index after it runs.
Tensor queueLabelCheck(const Tensor& labels, int64_t n, int64_t k) {
  Tensor flag = cuda::empty({1}, DType::Int64);
  auto* f = static_cast<unsigned long long*>(flag.storage->data);
  CR_CUDA_CHECK(cudaMemsetAsync(f, 0xff, sizeof(unsigned long long), stream()));
  if (n == 0) return flag;
  if (labels.dtype == DType::Int64)
    checkLabelsKernel<<<blocksFor(n), kThreads, 0, stream()>>>(labels.data<int64_t>(), n, k, f);
  else
    checkLabelsKernel<<<blocksFor(n), kThreads, 0, stream()>>>(labels.data<int32_t>(), n, k, f);
  CR_CUDA_CHECK_LAUNCH("checkLabelsKernel");
  return flag;
}

// Waits for the stream and throws the CPU's RangeError when the flag names a bad label.
void throwOnBadLabel(const char* op, const Tensor& flag, const Tensor& labels, int64_t k) {
  unsigned long long bad = kNoBadLabel;
  CR_CUDA_CHECK(cudaMemcpyAsync(&bad, flag.storage->data, sizeof bad, cudaMemcpyDeviceToHost, stream()));
  CR_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (bad == kNoBadLabel) return;
  int64_t index = static_cast<int64_t>(bad), label = 0;
  int32_t label32 = 0;
  bool wide = labels.dtype == DType::Int64;
  const void* at = wide ? static_cast<const void*>(labels.data<int64_t>() + index) : labels.data<int32_t>() + index;
  CR_CUDA_CHECK(cudaMemcpyAsync(wide ? static_cast<void*>(&label) : &label32, at, wide ? sizeof label : sizeof label32,
                                cudaMemcpyDeviceToHost, stream()));
  CR_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (!wide) label = label32;
  CR_CHECK_RANGE(false, op, ": label ", label, " at index ", index, " is outside [0, ", k, ")");
}

}  // namespace

CrossEntropyResult crossEntropy(const Tensor& logits, const Tensor& labels, double smoothing, bool check) {
  checkCrossEntropyArgs("crossEntropy", "logits", logits, labels, smoothing, Device::CUDA);
  int64_t n = logits.shape[0], k = logits.shape[1];
  // The range check reads a flag back: skipped when the caller checked the labels on the host,
  // and inside a graph capture, which cannot read back (the graph's caller checks its labels on
  // the host). Unchecked, a bad label gives a NaN loss.
  const bool checkLabels = check && !capturing();
  Tensor flag = checkLabels ? queueLabelCheck(labels, n, k) : Tensor();
  Tensor probs = cuda::empty({n, k});
  Tensor rowLoss = cuda::empty({n}, DType::Int64);  // doubles
  Tensor loss = cuda::empty({});
  auto* rows = reinterpret_cast<double*>(rowLoss.storage->data);
  unsigned int grid = static_cast<unsigned int>(std::min<int64_t>(n, 1 << 30));
  if (labels.dtype == DType::Int64)
    crossEntropyRowsKernel<<<grid, kThreads, 0, stream()>>>(logits.f32(), labels.data<int64_t>(), probs.f32(), rows,
                                                            n, k, smoothing);
  else
    crossEntropyRowsKernel<<<grid, kThreads, 0, stream()>>>(logits.f32(), labels.data<int32_t>(), probs.f32(), rows,
                                                            n, k, smoothing);
  CR_CUDA_CHECK_LAUNCH("crossEntropyRowsKernel");
  meanLossKernel<<<1, kThreads, 0, stream()>>>(rows, n, loss.f32());
  CR_CUDA_CHECK_LAUNCH("meanLossKernel");
  if (checkLabels) throwOnBadLabel("crossEntropy", flag, labels, k);
  return {loss, probs};
}

Tensor crossEntropyBackward(const Tensor& gradOutput, const Tensor& probs, const Tensor& labels, double smoothing) {
  checkLossGradient(gradOutput, Device::CUDA);
  checkCrossEntropyArgs("crossEntropyBackward", "probs", probs, labels, 0, Device::CUDA);
  int64_t n = probs.shape[0], k = probs.shape[1];
  // The labels were range-checked by the forward pass (a read-back that waits for the GPU); the
  // backward kernel only compares class indices with them, so it needs no second check.
  Tensor grad = cuda::empty({n, k});
  int64_t total = n * k;
  if (total == 0) return grad;
  double off = smoothing / static_cast<double>(k);
  if (labels.dtype == DType::Int64)
    crossEntropyBackwardKernel<<<blocksFor(total), kThreads, 0, stream()>>>(probs.f32(), labels.data<int64_t>(),
                                                                             grad.f32(), n, k, gradOutput.f32(), smoothing, off);
  else
    crossEntropyBackwardKernel<<<blocksFor(total), kThreads, 0, stream()>>>(probs.f32(), labels.data<int32_t>(),
                                                                             grad.f32(), n, k, gradOutput.f32(), smoothing, off);
  CR_CUDA_CHECK_LAUNCH("crossEntropyBackwardKernel");
  return grad;
}

}  // namespace cr::cuda
