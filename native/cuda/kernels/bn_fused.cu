// The kernels behind bn_fused.h: training-mode batch norm (and its relu(bn(x) + residual) tail)
// as one reduction pass, a per-channel pass and one element-wise pass, forward and backward.
// x is walked as (outer, C, inner), as the CPU's ChannelLayout: element (o, c, i) lies at
// (o * C + c) * inner + i.
//   columns (inner == 1: NHWC, (N, C), or NCHW with 1x1 planes): blocks of (cols x rowLanes)
//     threads; a thread owns one vector column (vec neighbouring channels) and steps through its
//     split's rows, so a warp reads whole rows. Grid (column blocks, splits).
//   planes (inner > 1: NCHW): a block owns one channel and one split of its outer * inner / vec
//     vectors (vec elements of one plane, the same channel). Grid (C, splits).
// The reduction pass leaves per-(split, channel) double sums in partial[(split * C + c) * 2 + k];
// the per-channel pass (a warp per channel) adds them in a fixed order. The forward sums x - k and
// (x - k)^2 with k the channel's first element, so the variance does not lose digits to a large
// mean. Per-element and per-channel formulas are host/device functions rounded as the CPU op
// rounds them (no contraction into fused multiply-adds).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "../ops.h"
#include "../runtime.h"
#include "block_reduce.cuh"
#include "bn_fused.h"
#include "common.cuh"

namespace cr::cuda {
namespace {

// ---- Arithmetic rounded as on the CPU (each step rounded, never fused) ----

__host__ __device__ inline float subF(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
__host__ __device__ inline float addF(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
__host__ __device__ inline float mulF(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
__host__ __device__ inline double subD(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
__host__ __device__ inline double addD(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
__host__ __device__ inline double mulD(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// ---- Vectors of 1 or 4 floats ----

template <int V>
__host__ __device__ inline void loadVec(const float* p, float* v) {
#ifdef __CUDA_ARCH__
  if constexpr (V == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
  } else {
    for (int l = 0; l < V; ++l) v[l] = p[l];
  }
#else
  for (int l = 0; l < V; ++l) v[l] = p[l];
#endif
}

template <int V>
__host__ __device__ inline void storeVec(float* p, const float* v) {
#ifdef __CUDA_ARCH__
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    for (int l = 0; l < V; ++l) p[l] = v[l];
  }
#else
  for (int l = 0; l < V; ++l) p[l] = v[l];
#endif
}

// ---- Launch plan and the walk of one thread ----

struct Plan {
  int64_t outer, channels, inner;  // the (outer, C, inner) layout
  int64_t perChannel;              // outer * inner: values per channel
  int vec;                         // floats per load: 1 or 4
  bool columns;                    // inner == 1
  int cols, rowLanes;              // columns: block (cols, rowLanes), cols * rowLanes == kThreads
  int64_t innerVecs;               // planes: inner / vec
  int64_t stepPlanes, stepInner;   // planes: kThreads vectors as whole planes + vectors
  int64_t units;                   // rows (columns) or vectors (planes) per channel
  int64_t chunk;                   // units per split
  int splits;                      // grid.y
  unsigned int gridX;              // column blocks (columns) or C (planes)
};

static_assert(kThreads == 256, "the column shapes below assume 256 threads a block");

// About this many blocks per pass when the tensor is large enough, each thread taking at least
// kMinSteps loads; partial sums then stay small (splits * C * 16 bytes).
constexpr int64_t kTargetBlocks = 2048;
constexpr int64_t kMinSteps = 8;
constexpr int kWarp = 32;
constexpr int kChannelsPerFinishBlock = kThreads / kWarp;

int64_t ceilDivide(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool aligned16(const float* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Splits of `count` units (rows or vectors) over at most `wanted` blocks, none of them empty.
void splitInto(Plan& p, int64_t count, int64_t wanted) {
  p.units = count;
  if (count == 0) {
    p.splits = 1;
    p.chunk = 0;
    return;
  }
  const int64_t splits = std::max<int64_t>(1, std::min<int64_t>({wanted, count, 65535}));
  p.chunk = ceilDivide(count, splits);
  p.splits = static_cast<int>(ceilDivide(count, p.chunk));
}

// The plan for a tensor of x's shape and format whose element-wise operands are `data` (all in
// x's format); 16-byte vectors only when every one of them is aligned.
Plan planFor(const Tensor& x, std::initializer_list<const float*> data) {
  Plan p{};
  p.channels = x.shape[1];
  if (x.dim() == 2) {
    p.outer = x.shape[0];
    p.inner = 1;
  } else if (x.format == MemoryFormat::ChannelsLast) {
    p.outer = x.shape[0] * x.shape[2] * x.shape[3];
    p.inner = 1;
  } else {
    p.outer = x.shape[0];
    p.inner = x.shape[2] * x.shape[3];
  }
  p.perChannel = p.outer * p.inner;
  p.columns = p.inner == 1;
  bool allAligned = true;
  for (const float* d : data) allAligned = allAligned && (d == nullptr || aligned16(d));
  p.vec = allAligned && (p.columns ? p.channels : p.inner) % 4 == 0 ? 4 : 1;
  if (p.columns) {
    const int64_t vecCols = p.channels / p.vec;
    int cols = 1;
    while (cols < 32 && cols < vecCols) cols *= 2;
    p.cols = cols;
    p.rowLanes = kThreads / cols;
    p.gridX = static_cast<unsigned int>(std::max<int64_t>(1, ceilDivide(vecCols, cols)));
    splitInto(p, p.outer,
              std::min(ceilDivide(p.outer, p.rowLanes * kMinSteps), ceilDivide(kTargetBlocks, p.gridX)));
  } else {
    p.cols = kThreads;
    p.rowLanes = 1;
    p.innerVecs = p.inner / p.vec;  // 0 only for empty planes, which have no vectors to walk
    p.stepPlanes = p.innerVecs > 0 ? kThreads / p.innerVecs : 0;
    p.stepInner = p.innerVecs > 0 ? kThreads % p.innerVecs : 0;
    p.gridX = static_cast<unsigned int>(p.channels);
    const int64_t vectors = p.outer * p.innerVecs;
    splitInto(p, vectors,
              std::min(ceilDivide(vectors, kThreads * kMinSteps), ceilDivide(kTargetBlocks, p.channels)));
  }
  return p;
}

dim3 gridOf(const Plan& p) { return dim3(p.gridX, static_cast<unsigned int>(p.splits)); }
dim3 blockOf(const Plan& p) { return dim3(static_cast<unsigned int>(p.cols), static_cast<unsigned int>(p.rowLanes)); }

// Values a thread's loads hold per vector: vec channels (columns) or one channel (planes).
template <bool kColumns, int V>
constexpr int kLanesOf = kColumns ? V : 1;

// The first channel of block bx / thread tx; >= C for threads past the last column.
template <bool kColumns>
__host__ __device__ inline int64_t channelOf(const Plan& p, unsigned int bx, unsigned int tx) {
  if constexpr (kColumns) return (static_cast<int64_t>(bx) * p.cols + tx) * p.vec;
  return bx;
}

// Offset of channel c's first element (the shift of its sums).
__host__ __device__ inline int64_t firstOffset(const Plan& p, int64_t c) { return p.columns ? c : c * p.inner; }

// Calls f(offset) for the first float of every vector thread (tx, ty) of split `by` owns in
// channel (column) c.
template <bool kColumns, typename F>
__host__ __device__ inline void forEachOwned(const Plan& p, int64_t c, unsigned int by, unsigned int tx,
                                             unsigned int ty, F&& f) {
  if (c >= p.channels) return;
  const int64_t begin = static_cast<int64_t>(by) * p.chunk;
  const int64_t end = begin + p.chunk < p.units ? begin + p.chunk : p.units;
  if constexpr (kColumns) {
#ifdef __CUDA_ARCH__
#pragma unroll 4  // loads of several steps in flight at once
#endif
    for (int64_t row = begin + ty; row < end; row += p.rowLanes) f(row * p.channels + c);
  } else {
    int64_t e = begin + tx;
    if (e >= end) return;
    int64_t o = e / p.innerVecs, i = e - o * p.innerVecs;
#ifdef __CUDA_ARCH__
#pragma unroll 4
#endif
    for (; e < end; e += kThreads) {
      f((o * p.channels + c) * p.inner + i * p.vec);
      o += p.stepPlanes;
      i += p.stepInner;
      if (i >= p.innerVecs) {
        i -= p.innerVecs;
        ++o;
      }
    }
  }
}

// ---- Per-element and per-channel formulas ----

struct Sums2 {
  double a, b;
};

// Forward statistics: sum (x - k) and sum (x - k)^2.
__host__ __device__ inline void statTerm(float x, float k, Sums2& s) {
  const double d = static_cast<double>(x) - static_cast<double>(k);
  s.a += d;
  s.b += d * d;
}

// The CPU's (x - mean) * scale + shift [+ residual], then [sum < 0 ? 0 : sum].
template <bool kResidual, bool kRelu>
__host__ __device__ inline float forwardElement(float x, float mean, float scale, float shift, float r) {
  float v = addF(mulF(subF(x, mean), scale), shift);
  if constexpr (kResidual) v = addF(v, r);
  if constexpr (kRelu) v = v < 0.0f ? 0.0f : v;
  return v;
}

// The gradient reaching the normalisation.
template <bool kRelu>
__host__ __device__ inline float maskedGradient(float dy, float y) {
  if constexpr (kRelu) return y > 0.0f ? dy : 0.0f;
  return dy;
}

// Backward sums: sum g and sum g * (x - mean), in double as the CPU.
__host__ __device__ inline void gradientTerm(float g, float x, float mean, Sums2& s) {
  const double gd = g;
  s.a += gd;
  s.b += gd * (static_cast<double>(x) - static_cast<double>(mean));
}

// The CPU's dx = (g - meanGrad - (x - mean) * xCoef) * gain.
__host__ __device__ inline float inputGradient(float g, float x, float mean, float meanGrad, float xCoef,
                                               float gain) {
  return mulF(subF(subF(g, meanGrad), mulF(subF(x, mean), xCoef)), gain);
}

// Lane `lane` of `lanes`' share of channel c's partial sums: splits lane, lane + lanes, ...
__host__ __device__ inline Sums2 laneSum(const double* partial, int64_t channels, int splits, int64_t c, int lane,
                                         int lanes) {
  Sums2 s{0.0, 0.0};
  for (int split = lane; split < splits; split += lanes) {
    s.a += partial[(split * channels + c) * 2];
    s.b += partial[(split * channels + c) * 2 + 1];
  }
  return s;
}

// Per-channel results of the forward: the statistics from the sums of x - k over n values, the
// running-statistics update, and the affine map the element pass applies, each rounded as the CPU.
struct ForwardChannelArgs {
  const float* weight;
  const float* bias;
  float* runningMean;
  float* runningVar;
  double momentum, eps;
  float* saveMean;
  float* saveInvStd;
  float* scale;
  float* shift;
};

__host__ __device__ inline void finishForwardChannel(Sums2 s, int64_t n, float k, int64_t c,
                                                     const ForwardChannelArgs& a) {
  const double count = static_cast<double>(n);
  const double meanShifted = s.a / count;
  const double mean = addD(static_cast<double>(k), meanShifted);
  double var = subD(s.b / count, mulD(meanShifted, meanShifted));
  var = var < 0.0 ? 0.0 : var;  // rounding can leave a constant channel slightly negative; NaN stays
  const double invStd = 1.0 / sqrt(addD(var, a.eps));
  a.saveMean[c] = static_cast<float>(mean);
  a.saveInvStd[c] = static_cast<float>(invStd);
  a.scale[c] = static_cast<float>(mulD(invStd, static_cast<double>(a.weight != nullptr ? a.weight[c] : 1.0f)));
  a.shift[c] = a.bias != nullptr ? a.bias[c] : 0.0f;
  if (a.runningMean != nullptr) {
    const double unbias = count / static_cast<double>(n - 1);
    const double keep = 1.0 - a.momentum;
    a.runningMean[c] =
        static_cast<float>(addD(mulD(keep, static_cast<double>(a.runningMean[c])), mulD(a.momentum, mean)));
    a.runningVar[c] = static_cast<float>(
        addD(mulD(keep, static_cast<double>(a.runningVar[c])), mulD(mulD(a.momentum, var), unbias)));
  }
}

// Per-channel results of the backward from sum g and sum g * (x - mean) over n values.
struct BackwardChannelArgs {
  const float* invStd;
  const float* weight;
  float* dweight;   // null when not wanted
  float* dbias;     // null when not wanted
  float* gain;      // gain, meanGrad, xCoef: null when dx is not wanted
  float* meanGrad;
  float* xCoef;
};

__host__ __device__ inline void finishBackwardChannel(Sums2 s, int64_t n, int64_t c, const BackwardChannelArgs& a) {
  const double invStd = a.invStd[c];
  if (a.dbias != nullptr) a.dbias[c] = static_cast<float>(s.a);
  if (a.dweight != nullptr) a.dweight[c] = static_cast<float>(mulD(s.b, invStd));
  if (a.gain != nullptr) {
    const double count = static_cast<double>(n);
    a.gain[c] = static_cast<float>(mulD(invStd, static_cast<double>(a.weight != nullptr ? a.weight[c] : 1.0f)));
    a.meanGrad[c] = static_cast<float>(s.a / count);
    a.xCoef[c] = static_cast<float>(mulD(mulD(invStd, invStd), s.b) / count);
  }
}

// ---- One thread's share of each pass ----

// Forward reduction: acc[kLanesOf] sums of x - k for channel(s) c.
template <bool kColumns, int V>
__host__ __device__ inline void threadForwardSums(const float* x, const Plan& p, int64_t c, unsigned int by,
                                                  unsigned int tx, unsigned int ty, Sums2* acc) {
  constexpr int kLanes = kLanesOf<kColumns, V>;
  float k[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    acc[l] = Sums2{0.0, 0.0};
    k[l] = c + l < p.channels && p.perChannel > 0 ? x[firstOffset(p, c + l)] : 0.0f;
  }
  forEachOwned<kColumns>(p, c, by, tx, ty, [&](int64_t offset) {
    float v[V];
    loadVec<V>(x + offset, v);
    for (int l = 0; l < V; ++l) statTerm(v[l], k[kColumns ? l : 0], acc[kColumns ? l : 0]);
  });
}

struct ForwardApplyArgs {
  const float* x;
  const float* residual;  // null without one
  float* y;
  const float* mean;
  const float* scale;
  const float* shift;
};

template <bool kColumns, int V, bool kResidual, bool kRelu>
__host__ __device__ inline void threadForwardApply(const ForwardApplyArgs& a, const Plan& p, int64_t c,
                                                   unsigned int by, unsigned int tx, unsigned int ty) {
  if (c >= p.channels) return;
  constexpr int kLanes = kLanesOf<kColumns, V>;
  float mean[kLanes], scale[kLanes], shift[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    mean[l] = a.mean[c + l];
    scale[l] = a.scale[c + l];
    shift[l] = a.shift[c + l];
  }
  forEachOwned<kColumns>(p, c, by, tx, ty, [&](int64_t offset) {
    float xv[V], rv[V] = {}, yv[V];
    loadVec<V>(a.x + offset, xv);
    if constexpr (kResidual) loadVec<V>(a.residual + offset, rv);
    for (int l = 0; l < V; ++l) {
      const int q = kColumns ? l : 0;
      yv[l] = forwardElement<kResidual, kRelu>(xv[l], mean[q], scale[q], shift[q], kResidual ? rv[l] : 0.0f);
    }
    storeVec<V>(a.y + offset, yv);
  });
}

struct BackwardArgs {
  const float* dy;
  const float* y;  // null without the relu tail
  const float* x;
  const float* mean;
  float* dx;         // null when not wanted
  float* dresidual;  // null when not wanted
  const float* gain;
  const float* meanGrad;
  const float* xCoef;
};

template <bool kColumns, int V, bool kRelu>
__host__ __device__ inline void threadBackwardSums(const BackwardArgs& a, const Plan& p, int64_t c, unsigned int by,
                                                   unsigned int tx, unsigned int ty, Sums2* acc) {
  constexpr int kLanes = kLanesOf<kColumns, V>;
  float mean[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    acc[l] = Sums2{0.0, 0.0};
    mean[l] = c + l < p.channels ? a.mean[c + l] : 0.0f;
  }
  forEachOwned<kColumns>(p, c, by, tx, ty, [&](int64_t offset) {
    float dyv[V], yv[V], xv[V];
    loadVec<V>(a.dy + offset, dyv);
    if constexpr (kRelu) loadVec<V>(a.y + offset, yv);
    loadVec<V>(a.x + offset, xv);
    for (int l = 0; l < V; ++l) {
      const int q = kColumns ? l : 0;
      gradientTerm(maskedGradient<kRelu>(dyv[l], kRelu ? yv[l] : 0.0f), xv[l], mean[q], acc[q]);
    }
  });
}

template <bool kColumns, int V, bool kRelu, bool kDx, bool kDresidual>
__host__ __device__ inline void threadBackwardApply(const BackwardArgs& a, const Plan& p, int64_t c, unsigned int by,
                                                    unsigned int tx, unsigned int ty) {
  if (c >= p.channels) return;
  constexpr int kLanes = kLanesOf<kColumns, V>;
  float mean[kLanes], gain[kLanes], meanGrad[kLanes], xCoef[kLanes];
  if constexpr (kDx) {
    for (int l = 0; l < kLanes; ++l) {
      mean[l] = a.mean[c + l];
      gain[l] = a.gain[c + l];
      meanGrad[l] = a.meanGrad[c + l];
      xCoef[l] = a.xCoef[c + l];
    }
  }
  forEachOwned<kColumns>(p, c, by, tx, ty, [&](int64_t offset) {
    float dyv[V], yv[V], xv[V], g[V], dxv[V];
    loadVec<V>(a.dy + offset, dyv);
    if constexpr (kRelu) loadVec<V>(a.y + offset, yv);
    for (int l = 0; l < V; ++l) g[l] = maskedGradient<kRelu>(dyv[l], kRelu ? yv[l] : 0.0f);
    if constexpr (kDresidual) storeVec<V>(a.dresidual + offset, g);
    if constexpr (kDx) {
      loadVec<V>(a.x + offset, xv);
      for (int l = 0; l < V; ++l) {
        const int q = kColumns ? l : 0;
        dxv[l] = inputGradient(g[l], xv[l], mean[q], meanGrad[q], xCoef[q], gain[q]);
      }
      storeVec<V>(a.dx + offset, dxv);
    }
  });
}

// ---- Kernels ----

// A block's sums to partial[(blockIdx.y * C + c) * 2 + k], added over the block's threads in a
// fixed tree order. Every thread of the block calls it.
template <bool kColumns, int V>
__device__ inline void storeBlockSums(const Plan& p, int64_t c, const Sums2* acc, double* partial) {
  if constexpr (kColumns) {
    // (2 * V, rowLanes, cols): sum k of lane l at ((l * 2 + k) * rowLanes + ty) * cols + tx
    __shared__ double scratch[2 * V * kThreads];
    const unsigned int tx = threadIdx.x, ty = threadIdx.y, cols = blockDim.x, rows = blockDim.y;
    for (int l = 0; l < V; ++l) {
      scratch[((l * 2) * rows + ty) * cols + tx] = acc[l].a;
      scratch[((l * 2 + 1) * rows + ty) * cols + tx] = acc[l].b;
    }
    __syncthreads();
    for (unsigned int half = rows / 2; half > 0; half >>= 1) {
      if (ty < half) {
        for (int k = 0; k < 2 * V; ++k) scratch[(k * rows + ty) * cols + tx] += scratch[(k * rows + ty + half) * cols + tx];
      }
      __syncthreads();
    }
    if (ty == 0) {
      for (int l = 0; l < V; ++l) {
        if (c + l >= p.channels) break;
        double* out = partial + (blockIdx.y * p.channels + c + l) * 2;
        out[0] = scratch[((l * 2) * rows) * cols + tx];
        out[1] = scratch[((l * 2 + 1) * rows) * cols + tx];
      }
    }
  } else {
    __shared__ double scratch[kThreads];
    const double a = blockReduce(acc[0].a, scratch, SumOf{});
    const double b = blockReduce(acc[0].b, scratch, SumOf{});
    if (threadIdx.x == 0) {
      double* out = partial + (blockIdx.y * p.channels + c) * 2;
      out[0] = a;
      out[1] = b;
    }
  }
}

template <bool kColumns, int V>
__global__ void __launch_bounds__(kThreads) bnForwardSumsKernel(const float* __restrict__ x, Plan p,
                                                                double* __restrict__ partial) {
  const int64_t c = channelOf<kColumns>(p, blockIdx.x, threadIdx.x);
  Sums2 acc[kLanesOf<kColumns, V>];
  threadForwardSums<kColumns, V>(x, p, c, blockIdx.y, threadIdx.x, threadIdx.y, acc);
  storeBlockSums<kColumns, V>(p, c, acc, partial);
}

// The channel's total of its splits' sums, added in a fixed order by the lanes of one warp.
__device__ inline Sums2 warpChannelSum(const double* partial, int64_t channels, int splits, int64_t c, int lane) {
  Sums2 s = laneSum(partial, channels, splits, c, lane, kWarp);
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    s.a += __shfl_down_sync(0xffffffffu, s.a, offset);
    s.b += __shfl_down_sync(0xffffffffu, s.b, offset);
  }
  return s;
}

__global__ void __launch_bounds__(kThreads) bnForwardFinishKernel(const double* __restrict__ partial,
                                                                  const float* __restrict__ x, Plan p,
                                                                  ForwardChannelArgs a) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  if (c >= p.channels) return;  // whole warps
  const Sums2 s = warpChannelSum(partial, p.channels, p.splits, c, lane);
  if (lane == 0) {
    const float k = p.perChannel > 0 ? x[firstOffset(p, c)] : 0.0f;
    finishForwardChannel(s, p.perChannel, k, c, a);
  }
}

template <bool kColumns, int V, bool kResidual, bool kRelu>
__global__ void __launch_bounds__(kThreads) bnForwardApplyKernel(ForwardApplyArgs a, Plan p) {
  threadForwardApply<kColumns, V, kResidual, kRelu>(a, p, channelOf<kColumns>(p, blockIdx.x, threadIdx.x),
                                                    blockIdx.y, threadIdx.x, threadIdx.y);
}

template <bool kColumns, int V, bool kRelu>
__global__ void __launch_bounds__(kThreads) bnBackwardSumsKernel(BackwardArgs a, Plan p, double* __restrict__ partial) {
  const int64_t c = channelOf<kColumns>(p, blockIdx.x, threadIdx.x);
  Sums2 acc[kLanesOf<kColumns, V>];
  threadBackwardSums<kColumns, V, kRelu>(a, p, c, blockIdx.y, threadIdx.x, threadIdx.y, acc);
  storeBlockSums<kColumns, V>(p, c, acc, partial);
}

__global__ void __launch_bounds__(kThreads) bnBackwardFinishKernel(const double* __restrict__ partial, Plan p,
                                                                   BackwardChannelArgs a) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  if (c >= p.channels) return;  // whole warps
  const Sums2 s = warpChannelSum(partial, p.channels, p.splits, c, lane);
  if (lane == 0) finishBackwardChannel(s, p.perChannel, c, a);
}

template <bool kColumns, int V, bool kRelu, bool kDx, bool kDresidual>
__global__ void __launch_bounds__(kThreads) bnBackwardApplyKernel(BackwardArgs a, Plan p) {
  threadBackwardApply<kColumns, V, kRelu, kDx, kDresidual>(a, p, channelOf<kColumns>(p, blockIdx.x, threadIdx.x),
                                                           blockIdx.y, threadIdx.x, threadIdx.y);
}

// ---- Host side ----

template <bool B>
using BoolC = std::integral_constant<bool, B>;
template <int I>
using IntC = std::integral_constant<int, I>;

// f(BoolC<columns>, IntC<vec>) for the plan's walk.
template <typename F>
void withWalk(const Plan& p, F&& f) {
  if (p.columns) {
    if (p.vec == 4) f(BoolC<true>{}, IntC<4>{});
    else f(BoolC<true>{}, IntC<1>{});
  } else {
    if (p.vec == 4) f(BoolC<false>{}, IntC<4>{});
    else f(BoolC<false>{}, IntC<1>{});
  }
}

template <typename F>
void withFlag(bool flag, F&& f) {
  if (flag) f(BoolC<true>{});
  else f(BoolC<false>{});
}

unsigned int finishBlocks(int64_t channels) {
  return static_cast<unsigned int>(ceilDivide(channels, kChannelsPerFinishBlock));
}

// (splits, C, 2) doubles followed by `floats` per-channel floats.
struct Scratch {
  Tensor buffer;
  double* partial = nullptr;
  float* perChannel = nullptr;
};

Scratch scratchFor(const Plan& p, int64_t floatsPerChannel) {
  const int64_t partialBytes = static_cast<int64_t>(p.splits) * p.channels * 2 * 8;
  Scratch s;
  s.buffer = cuda::empty({partialBytes + floatsPerChannel * p.channels * 4}, DType::UInt8);
  s.partial = s.buffer.data<double>();
  s.perChannel = reinterpret_cast<float*>(s.buffer.data<unsigned char>() + partialBytes);
  return s;
}

// The same tensor when it already has x's layout, otherwise a copy in x's memory format.
Tensor inFormatOf(const Tensor& t, const Tensor& x) { return t.format == x.format ? t : cuda::toFormat(t, x.format); }

int initialKernelChoice() {
  const char* value = std::getenv("CUDNN_RESNET_BN");
  return value != nullptr && std::strcmp(value, "cudnn") == 0 ? 0 : 1;
}

std::atomic<int>& kernelChoice() {
  static std::atomic<int> choice{initialKernelChoice()};
  return choice;
}

}  // namespace

void setBatchNormKernels(bool fused) { kernelChoice().store(fused ? 1 : 0); }

bool batchNormKernelsFused() { return kernelChoice().load() != 0; }

BatchNormResult bnFusedForward(const Tensor& x, const Tensor* residual, bool relu, const Tensor* weight,
                               const Tensor* bias, Tensor* runningMean, Tensor* runningVar, double momentum,
                               double eps) {
  const Tensor r = residual != nullptr ? inFormatOf(*residual, x) : Tensor();
  BatchNormResult result;
  result.y = cuda::empty(x.shape, DType::Float32, x.format);
  const int64_t C = x.shape[1];
  result.saveMean = cuda::empty({C});
  result.saveInvStd = cuda::empty({C});
  if (C == 0) return result;

  const Plan p = planFor(x, {x.f32(), residual != nullptr ? r.f32() : nullptr, result.y.f32()});
  Scratch scratch = scratchFor(p, 2);  // scale, shift
  float* scale = scratch.perChannel;
  float* shift = scratch.perChannel + C;

  withWalk(p, [&](auto columns, auto vec) {
    bnForwardSumsKernel<columns.value, vec.value><<<gridOf(p), blockOf(p), 0, stream()>>>(x.f32(), p, scratch.partial);
  });
  CR_CUDA_CHECK_LAUNCH("bnForwardSumsKernel");

  ForwardChannelArgs channelArgs{weight != nullptr ? weight->f32() : nullptr,
                                 bias != nullptr ? bias->f32() : nullptr,
                                 runningMean != nullptr ? runningMean->f32() : nullptr,
                                 runningVar != nullptr ? runningVar->f32() : nullptr,
                                 momentum,
                                 eps,
                                 result.saveMean.f32(),
                                 result.saveInvStd.f32(),
                                 scale,
                                 shift};
  bnForwardFinishKernel<<<finishBlocks(C), kThreads, 0, stream()>>>(scratch.partial, x.f32(), p, channelArgs);
  CR_CUDA_CHECK_LAUNCH("bnForwardFinishKernel");

  if (x.numel() == 0) return result;
  const ForwardApplyArgs applyArgs{x.f32(), residual != nullptr ? r.f32() : nullptr, result.y.f32(),
                                   result.saveMean.f32(), scale, shift};
  withWalk(p, [&](auto columns, auto vec) {
    withFlag(residual != nullptr, [&](auto withResidual) {
      withFlag(relu, [&](auto withRelu) {
        bnForwardApplyKernel<columns.value, vec.value, withResidual.value, withRelu.value>
            <<<gridOf(p), blockOf(p), 0, stream()>>>(applyArgs, p);
      });
    });
  });
  CR_CUDA_CHECK_LAUNCH("bnForwardApplyKernel");
  return result;
}

BnAddReluGrads bnFusedBackward(const Tensor& dy, const Tensor* y, const Tensor& x, const Tensor* weight,
                               const Tensor& saveMean, const Tensor& saveInvStd, bool needDx, bool needDresidual,
                               bool needDweight, bool needDbias) {
  needDweight = needDweight && weight != nullptr;
  BnAddReluGrads grads;
  const bool needSums = needDx || needDweight || needDbias;
  if (!needSums && !needDresidual) return grads;
  const bool relu = y != nullptr;
  const Tensor g = inFormatOf(dy, x);
  const Tensor yLikeX = relu ? inFormatOf(*y, x) : Tensor();
  const int64_t C = x.shape[1];
  if (needDx) grads.dx = cuda::empty(x.shape, DType::Float32, x.format);
  if (needDresidual) grads.dresidual = cuda::empty(x.shape, DType::Float32, x.format);
  if (needDweight) grads.dweight = cuda::empty({C});
  if (needDbias) grads.dbias = cuda::empty({C});
  if (C == 0) return grads;

  const Plan p = planFor(x, {g.f32(), relu ? yLikeX.f32() : nullptr, x.f32(), needDx ? grads.dx.f32() : nullptr,
                             needDresidual ? grads.dresidual.f32() : nullptr});
  Scratch scratch = needSums ? scratchFor(p, needDx ? 3 : 0) : Scratch{};  // gain, meanGrad, xCoef
  float* gain = needDx ? scratch.perChannel : nullptr;
  float* meanGrad = needDx ? scratch.perChannel + C : nullptr;
  float* xCoef = needDx ? scratch.perChannel + 2 * C : nullptr;
  const BackwardArgs args{g.f32(),
                          relu ? yLikeX.f32() : nullptr,
                          x.f32(),
                          saveMean.f32(),
                          needDx ? grads.dx.f32() : nullptr,
                          needDresidual ? grads.dresidual.f32() : nullptr,
                          gain,
                          meanGrad,
                          xCoef};

  if (needSums) {
    withWalk(p, [&](auto columns, auto vec) {
      withFlag(relu, [&](auto withRelu) {
        bnBackwardSumsKernel<columns.value, vec.value, withRelu.value>
            <<<gridOf(p), blockOf(p), 0, stream()>>>(args, p, scratch.partial);
      });
    });
    CR_CUDA_CHECK_LAUNCH("bnBackwardSumsKernel");
    const BackwardChannelArgs channelArgs{saveInvStd.f32(),
                                          weight != nullptr ? weight->f32() : nullptr,
                                          needDweight ? grads.dweight.f32() : nullptr,
                                          needDbias ? grads.dbias.f32() : nullptr,
                                          gain,
                                          meanGrad,
                                          xCoef};
    bnBackwardFinishKernel<<<finishBlocks(C), kThreads, 0, stream()>>>(scratch.partial, p, channelArgs);
    CR_CUDA_CHECK_LAUNCH("bnBackwardFinishKernel");
  }

  if ((!needDx && !needDresidual) || x.numel() == 0) return grads;
  withWalk(p, [&](auto columns, auto vec) {
    withFlag(relu, [&](auto withRelu) {
      withFlag(needDx, [&](auto withDx) {
        withFlag(needDresidual, [&](auto withDresidual) {
          if constexpr (withDx.value || withDresidual.value) {
            bnBackwardApplyKernel<columns.value, vec.value, withRelu.value, withDx.value, withDresidual.value>
                <<<gridOf(p), blockOf(p), 0, stream()>>>(args, p);
          }
        });
      });
    });
  });
  CR_CUDA_CHECK_LAUNCH("bnBackwardApplyKernel");
  return grads;
}

}  // namespace cr::cuda
