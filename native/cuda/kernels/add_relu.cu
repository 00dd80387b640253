// The kernels behind add_relu.h: bnAddRelu's residual add + ReLU and its gradient mask, and the
// per-channel work of the GPU batch norm that cuDNN does not do (eval-mode statistics, eval-mode
// input gradient, per-channel gradient sums, constant vectors). Element-wise kernels walk the
// output in storage order and read other operands logically when their memory format differs.
#include <algorithm>
#include <cmath>

#include "../runtime.h"
#include "add_relu.h"
#include "block_reduce.cuh"
#include "common.cuh"

namespace cr::cuda {
namespace {

// ---- Layout helpers ----

// A tensor's logical (N, C, H, W); a 2-D (N, C) tensor is (N, C, 1, 1).
struct Dims4 { int64_t N, C, H, W; };

Dims4 dimsOf(const Tensor& t) {
  if (t.dim() == 2) return {t.shape[0], t.shape[1], 1, 1};
  return {t.shape[0], t.shape[1], t.shape[2], t.shape[3]};
}

bool isChannelsLast(const Tensor& t) { return t.format == MemoryFormat::ChannelsLast; }

// Offset, in a tensor stored with `toChannelsLast`, of the element stored at `index` of the same
// shape stored with `fromChannelsLast`.
__host__ __device__ inline int64_t remap(int64_t index, const Dims4 d, bool fromChannelsLast, bool toChannelsLast) {
  if (fromChannelsLast == toChannelsLast) return index;
  int64_t n, c, h, w;
  if (fromChannelsLast) {
    c = index % d.C;
    index /= d.C;
    w = index % d.W;
    index /= d.W;
    h = index % d.H;
    n = index / d.H;
  } else {
    w = index % d.W;
    index /= d.W;
    h = index % d.H;
    index /= d.H;
    c = index % d.C;
    n = index / d.C;
  }
  return offset4(n, c, h, w, d.C, d.H, d.W, toChannelsLast);
}

// x seen as (outer, C, inner), as the CPU's ChannelLayout: element (o, c, i) lies at
// (o * C + c) * inner + i. NCHW (N, C, H, W) is (N, C, H*W); NHWC is (N*H*W, C, 1); (N, C) is (N, C, 1).
struct ChannelLayout { int64_t outer, channels, inner; };

ChannelLayout layoutOf(const Tensor& x) {
  const Dims4 d = dimsOf(x);
  if (isChannelsLast(x)) return {d.N * d.H * d.W, d.C, 1};
  return {d.N, d.C, d.H * d.W};
}

// ---- Element-wise kernels ----

// y = relu(y + residual): sum < 0 ? 0 : sum, so NaN (and -0) pass through as on the CPU.
template <bool kSameFormat>
__global__ void addReluKernel(float* y, const float* residual, int64_t n, Dims4 d, bool yChannelsLast,
                              bool residualChannelsLast) {
  CR_GRID_STRIDE(i, n) {
    const int64_t r = kSameFormat ? i : remap(i, d, yChannelsLast, residualChannelsLast);
    const float sum = y[i] + residual[r];
    y[i] = sum < 0.0f ? 0.0f : sum;
  }
}

template <bool kSameFormat>
__global__ void reluGradientKernel(const float* dy, const float* y, float* out, int64_t n, Dims4 d, bool outChannelsLast,
                                   bool dyChannelsLast, bool yChannelsLast) {
  CR_GRID_STRIDE(i, n) {
    const int64_t iy = kSameFormat ? i : remap(i, d, outChannelsLast, yChannelsLast);
    const int64_t idy = kSameFormat ? i : remap(i, d, outChannelsLast, dyChannelsLast);
    out[i] = y[iy] > 0.0f ? dy[idy] : 0.0f;
  }
}

__global__ void fillKernel(float* out, int64_t n, float value) {
  CR_GRID_STRIDE(i, n) { out[i] = value; }
}

__global__ void evalStatisticsKernel(const float* runningMean, const float* runningVar, double eps, int64_t channels,
                                     float* saveMean, float* saveInvStd) {
  CR_GRID_STRIDE(c, channels) {
    saveMean[c] = runningMean[c];
    saveInvStd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(runningVar[c]) + eps));
  }
}

// The CPU's (g - meanGrad - (x - mean) * xCoef) * gain with meanGrad = xCoef = 0 and
// gain = float(double(invStd) * weight), each step rounded as in float (no contraction).
__global__ void evalInputGradientKernel(const float* g, const float* x, const float* weight, const float* mean,
                                        const float* invStd, int64_t n, ChannelLayout L, float* dx) {
  CR_GRID_STRIDE(i, n) {
    const int64_t c = (i / L.inner) % L.channels;
    const float gain =
        static_cast<float>(static_cast<double>(invStd[c]) * static_cast<double>(weight != nullptr ? weight[c] : 1.0f));
    const float centred = __fsub_rn(x[i], mean[c]);
    dx[i] = __fmul_rn(__fsub_rn(__fsub_rn(g[i], 0.0f), __fmul_rn(centred, 0.0f)), gain);
  }
}

// ---- Per-channel gradient sums ----
// Each split s of a channel's perChannel elements leaves {sum g, sum g * (x - mean)} in
// partial[(s * C + c) * 2 + k]; finishChannelGradsKernel adds the splits in order.

constexpr int kColumnChannels = 32, kColumnLanes = 8;

// inner == 1 (NHWC or (N, C)): blocks of 32 neighbouring channels x 8 lanes over the rows.
__global__ void channelSumsColumnsKernel(const float* g, const float* x, const float* mean, ChannelLayout L,
                                         int64_t chunk, double* partial) {
  __shared__ double sums[2][kColumnLanes][kColumnChannels + 1];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kColumnChannels) + threadIdx.x;
  const int64_t begin = blockIdx.y * chunk, end = min(L.outer, begin + chunk);
  double s0 = 0, s1 = 0;
  if (c < L.channels) {
    const double m = mean[c];
    for (int64_t row = begin + threadIdx.y; row < end; row += kColumnLanes) {
      const int64_t idx = row * L.channels + c;
      const double gv = g[idx];
      s0 += gv;
      s1 += gv * (static_cast<double>(x[idx]) - m);
    }
  }
  sums[0][threadIdx.y][threadIdx.x] = s0;
  sums[1][threadIdx.y][threadIdx.x] = s1;
  __syncthreads();
  if (threadIdx.y == 0 && c < L.channels) {
    double t0 = 0, t1 = 0;
    for (int lane = 0; lane < kColumnLanes; ++lane) {
      t0 += sums[0][lane][threadIdx.x];
      t1 += sums[1][lane][threadIdx.x];
    }
    double* out = partial + (blockIdx.y * L.channels + c) * 2;
    out[0] = t0;
    out[1] = t1;
  }
}

// inner > 1 (NCHW): one block per (channel, split); threads step through the channel's planes.
__global__ void channelSumsPlanesKernel(const float* g, const float* x, const float* mean, ChannelLayout L,
                                        int64_t chunk, double* partial) {
  __shared__ double scratch[kThreads];
  const int64_t c = blockIdx.x;
  const int64_t perChannel = L.outer * L.inner;
  const int64_t begin = blockIdx.y * chunk, end = min(perChannel, begin + chunk);
  const double m = mean[c];
  double s0 = 0, s1 = 0;
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const int64_t idx = ((e / L.inner) * L.channels + c) * L.inner + e % L.inner;
    const double gv = g[idx];
    s0 += gv;
    s1 += gv * (static_cast<double>(x[idx]) - m);
  }
  s0 = blockReduce(s0, scratch, SumOf{});
  s1 = blockReduce(s1, scratch, SumOf{});
  if (threadIdx.x == 0) {
    double* out = partial + (blockIdx.y * L.channels + c) * 2;
    out[0] = s0;
    out[1] = s1;
  }
}

// dbias = float(sum g), dweight = float(sum g * (x - mean) * invStd), as the CPU rounds them.
__global__ void finishChannelGradsKernel(const double* partial, const float* invStd, int64_t channels, int splits,
                                         float* dweight, float* dbias) {
  CR_GRID_STRIDE(c, channels) {
    double s0 = 0, s1 = 0;
    for (int s = 0; s < splits; ++s) {
      s0 += partial[(s * channels + c) * 2];
      s1 += partial[(s * channels + c) * 2 + 1];
    }
    if (dbias != nullptr) dbias[c] = static_cast<float>(s0);
    if (dweight != nullptr) dweight[c] = static_cast<float>(s1 * static_cast<double>(invStd[c]));
  }
}

// Elements one block (or one column of a block) sums per split, roughly.
constexpr int64_t kElementsPerSplit = 1 << 16;
constexpr int64_t kMaxSplits = 64;

}  // namespace

void addReluInPlace(Tensor& y, const Tensor& residual) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const Dims4 d = dimsOf(y);
  const bool yCl = isChannelsLast(y), rCl = isChannelsLast(residual);
  if (yCl == rCl) {
    addReluKernel<true><<<blocksFor(n), kThreads, 0, stream()>>>(y.f32(), residual.f32(), n, d, yCl, rCl);
  } else {
    addReluKernel<false><<<blocksFor(n), kThreads, 0, stream()>>>(y.f32(), residual.f32(), n, d, yCl, rCl);
  }
  CR_CUDA_CHECK_LAUNCH("addReluKernel");
}

Tensor reluGradient(const Tensor& dy, const Tensor& y, MemoryFormat format) {
  Tensor out = cuda::empty(y.shape, DType::Float32, y.dim() == 4 ? format : MemoryFormat::Contiguous);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const Dims4 d = dimsOf(y);
  const bool outCl = isChannelsLast(out), dyCl = isChannelsLast(dy), yCl = isChannelsLast(y);
  if (outCl == dyCl && outCl == yCl) {
    reluGradientKernel<true><<<blocksFor(n), kThreads, 0, stream()>>>(dy.f32(), y.f32(), out.f32(), n, d, outCl, dyCl,
                                                                       yCl);
  } else {
    reluGradientKernel<false><<<blocksFor(n), kThreads, 0, stream()>>>(dy.f32(), y.f32(), out.f32(), n, d, outCl,
                                                                        dyCl, yCl);
  }
  CR_CUDA_CHECK_LAUNCH("reluGradientKernel");
  return out;
}

Tensor filled(int64_t n, float value) {
  Tensor out = cuda::empty({n});
  if (n == 0) return out;
  fillKernel<<<blocksFor(n), kThreads, 0, stream()>>>(out.f32(), n, value);
  CR_CUDA_CHECK_LAUNCH("fillKernel");
  return out;
}

void evalStatistics(const Tensor& runningMean, const Tensor& runningVar, double eps, Tensor& saveMean,
                    Tensor& saveInvStd) {
  const int64_t channels = runningMean.numel();
  saveMean = cuda::empty({channels});
  saveInvStd = cuda::empty({channels});
  if (channels == 0) return;
  evalStatisticsKernel<<<blocksFor(channels), kThreads, 0, stream()>>>(runningMean.f32(), runningVar.f32(), eps,
                                                                        channels, saveMean.f32(), saveInvStd.f32());
  CR_CUDA_CHECK_LAUNCH("evalStatisticsKernel");
}

ChannelGrads channelGrads(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invStd,
                          bool needDweight, bool needDbias) {
  ChannelGrads grads;
  if (!needDweight && !needDbias) return grads;
  const ChannelLayout L = layoutOf(x);
  if (needDweight) grads.dweight = cuda::empty({L.channels});
  if (needDbias) grads.dbias = cuda::empty({L.channels});
  if (L.channels == 0) return grads;
  const int64_t perChannel = L.outer * L.inner;
  const int splits = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(kMaxSplits, (perChannel + kElementsPerSplit - 1) / kElementsPerSplit)));
  const int64_t chunk = std::max<int64_t>(1, (perChannel + splits - 1) / splits);
  // (splits, C, 2) double partial sums
  Tensor partial = cuda::empty({static_cast<int64_t>(splits) * L.channels * 2 * 8}, DType::UInt8);
  double* partialData = partial.data<double>();
  if (perChannel == 0) {
    CR_CUDA_CHECK(cudaMemsetAsync(partialData, 0, partial.nbytes(), stream()));
  } else if (L.inner == 1) {
    const dim3 grid(static_cast<unsigned int>((L.channels + kColumnChannels - 1) / kColumnChannels),
                    static_cast<unsigned int>(splits));
    channelSumsColumnsKernel<<<grid, dim3(kColumnChannels, kColumnLanes), 0, stream()>>>(
        g.f32(), x.f32(), mean.f32(), L, chunk, partialData);
    CR_CUDA_CHECK_LAUNCH("channelSumsColumnsKernel");
  } else {
    const dim3 grid(static_cast<unsigned int>(L.channels), static_cast<unsigned int>(splits));
    channelSumsPlanesKernel<<<grid, kThreads, 0, stream()>>>(g.f32(), x.f32(), mean.f32(), L, chunk, partialData);
    CR_CUDA_CHECK_LAUNCH("channelSumsPlanesKernel");
  }
  finishChannelGradsKernel<<<blocksFor(L.channels), kThreads, 0, stream()>>>(
      partialData, invStd.f32(), L.channels, splits, needDweight ? grads.dweight.f32() : nullptr,
      needDbias ? grads.dbias.f32() : nullptr);
  CR_CUDA_CHECK_LAUNCH("finishChannelGradsKernel");
  return grads;
}

Tensor evalInputGradient(const Tensor& g, const Tensor& x, const Tensor* weight, const Tensor& mean,
                         const Tensor& invStd) {
  Tensor dx = cuda::empty(x.shape, DType::Float32, x.format);
  const int64_t n = dx.numel();
  if (n == 0) return dx;
  evalInputGradientKernel<<<blocksFor(n), kThreads, 0, stream()>>>(g.f32(), x.f32(),
                                                                    weight != nullptr ? weight->f32() : nullptr,
                                                                    mean.f32(), invStd.f32(), n, layoutOf(x), dx.f32());
  CR_CUDA_CHECK_LAUNCH("evalInputGradientKernel");
  return dx;
}

}  // namespace cr::cuda
