// Max, average and adaptive average pooling on the GPU, forward and backward: the twins of
// native/cpu/pool.cc, with its windows, argument errors and output memory formats (a forward
// output, argmax included, has x's format; dx has dy's). Each thread computes one output element
// through a __host__ __device__ function of the element's index, reading either memory format in
// place. The forward passes and the average-pool backward (a gather: each input element sums the
// windows that hold it, in the CPU's order) give the CPU's results bit for bit; the max-pool
// backward scatters with atomicAdd, so overlapping windows may sum in another order.
#include <cmath>
#include <cstdint>
#include <string>

#include "../ops.h"
#include "common.cuh"
#include "tensor_checks.cuh"

namespace cr::cuda {
namespace {

// ---- Window arithmetic (host and device) ----

__host__ __device__ inline int64_t lesser(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ inline int64_t greater(int64_t a, int64_t b) { return a > b ? a : b; }

// One axis of a pooling grid: `in` input positions pooled into `out` outputs, by a fixed kernel
// (size, stride, padding, whether padding counts in the average) or adaptively.
struct PoolAxis {
  int64_t in, out, kernel, stride, pad;
  bool countIncludePad, adaptive;
};

PoolAxis fixedAxis(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad, bool countIncludePad) {
  return {in, out, kernel, stride, pad, countIncludePad, false};
}
PoolAxis adaptiveAxis(int64_t in, int64_t out) { return {in, out, 1, 1, 0, true, true}; }

// The input span [begin, end) output o reads, and the size its sum is divided by when averaging.
struct Window { int64_t begin, end, divisor; };

// As the CPU's poolWindows / adaptiveWindows: a fixed window is clipped to the padded input for
// the divisor that counts padding, and to the input itself for the elements read; adaptive
// window o spans [floor(o * in / out), ceil((o + 1) * in / out)).
__host__ __device__ inline Window axisWindow(const PoolAxis& a, int64_t o) {
  if (a.adaptive) {
    const int64_t begin = o * a.in / a.out, end = ((o + 1) * a.in + a.out - 1) / a.out;
    return {begin, end, end - begin};
  }
  const int64_t start = o * a.stride - a.pad;
  const int64_t paddedEnd = lesser(start + a.kernel, a.in + a.pad);
  const int64_t begin = greater(start, 0), end = lesser(paddedEnd, a.in);
  return {begin, end, a.countIncludePad ? paddedEnd - start : end - begin};
}

// The outputs [begin, end) whose windows (as read) hold input position i, 0 <= i < in.
// Fixed: window o reads [max(o*s - p, 0), min(o*s - p + k, in)), which holds i exactly when
// o*s - p <= i < o*s - p + k, i.e. (i + p - k) / s < o <= (i + p) / s.
// Adaptive: floor(o * in / out) <= i  <=>  o < ceil((i + 1) * out / in), and
// ceil((o + 1) * in / out) > i  <=>  o >= floor(i * out / in).
__host__ __device__ inline Window windowsHolding(const PoolAxis& a, int64_t i) {
  if (a.adaptive) {
    const int64_t begin = i * a.out / a.in, end = ((i + 1) * a.out + a.in - 1) / a.in;
    return {begin, lesser(end, a.out), 0};
  }
  const int64_t reach = i + a.pad;
  const int64_t begin = reach < a.kernel ? 0 : (reach - a.kernel) / a.stride + 1;
  return {begin, lesser(reach / a.stride + 1, a.out), 0};
}

// Logical (n, c, h, w) of the element stored at `index` in an (N, C, H, W) tensor, NCHW or NHWC.
struct Index4 { int64_t n, c, h, w; };

__host__ __device__ inline Index4 unravel4(int64_t index, int64_t C, int64_t H, int64_t W, bool channelsLast) {
  Index4 r;
  if (channelsLast) {
    r.c = index % C;
    index /= C;
    r.w = index % W;
    index /= W;
    r.h = index % H;
    r.n = index / H;
  } else {
    r.w = index % W;
    index /= W;
    r.h = index % H;
    index /= H;
    r.c = index % C;
    r.n = index / C;
  }
  return r;
}

// ---- Per-element computations (host and device); x and y share `channelsLast` ----

// Output element `index` of a max pool and its argmax (flat index into the H*W plane). Padding is
// -inf: the first element read wins unless a larger one (or a NaN) follows, as on the CPU.
__host__ __device__ inline void maxPoolAt(const float* x, int64_t C, const PoolAxis& rows, const PoolAxis& cols,
                                          bool channelsLast, int64_t index, float* y, int32_t* argmax) {
  const Index4 o = unravel4(index, C, rows.out, cols.out, channelsLast);
  const Window r = axisWindow(rows, o.h), c = axisWindow(cols, o.w);
  float best = -INFINITY;
  int64_t bestIndex = r.begin * cols.in + c.begin;
  for (int64_t ih = r.begin; ih < r.end; ++ih)
    for (int64_t iw = c.begin; iw < c.end; ++iw) {
      const float v = x[offset4(o.n, o.c, ih, iw, C, rows.in, cols.in, channelsLast)];
      if (v > best || v != v) {  // v != v: NaN
        best = v;
        bestIndex = ih * cols.in + iw;
      }
    }
  y[index] = best;
  argmax[index] = static_cast<int32_t>(bestIndex);
}

// Output element `index` of an average pool: the window sum in double, divided in double.
__host__ __device__ inline float averageAt(const float* x, int64_t C, const PoolAxis& rows, const PoolAxis& cols,
                                           bool channelsLast, int64_t index) {
  const Index4 o = unravel4(index, C, rows.out, cols.out, channelsLast);
  const Window r = axisWindow(rows, o.h), c = axisWindow(cols, o.w);
  double sum = 0;
  for (int64_t ih = r.begin; ih < r.end; ++ih)
    for (int64_t iw = c.begin; iw < c.end; ++iw)
      sum += x[offset4(o.n, o.c, ih, iw, C, rows.in, cols.in, channelsLast)];
  return static_cast<float>(sum / static_cast<double>(r.divisor * c.divisor));
}

// Input-gradient element `index` of an average pool: the shares of every output window holding
// it, added in float in the order the CPU spreads them (output rows, then columns).
__host__ __device__ inline float averageGradAt(const float* dy, int64_t C, const PoolAxis& rows, const PoolAxis& cols,
                                               bool channelsLast, int64_t index) {
  const Index4 i = unravel4(index, C, rows.in, cols.in, channelsLast);
  const Window rs = windowsHolding(rows, i.h), cs = windowsHolding(cols, i.w);
  float acc = 0.0f;
  for (int64_t oh = rs.begin; oh < rs.end; ++oh) {
    const int64_t rowDivisor = axisWindow(rows, oh).divisor;
    for (int64_t ow = cs.begin; ow < cs.end; ++ow) {
      const double g = dy[offset4(i.n, i.c, oh, ow, C, rows.out, cols.out, channelsLast)];
      acc += static_cast<float>(g / static_cast<double>(rowDivisor * axisWindow(cols, ow).divisor));
    }
  }
  return acc;
}

// ---- Kernels ----

__global__ void maxPoolKernel(const float* x, int64_t C, PoolAxis rows, PoolAxis cols, bool channelsLast, int64_t n,
                              float* y, int32_t* argmax) {
  CR_GRID_STRIDE(i, n) { maxPoolAt(x, C, rows, cols, channelsLast, i, y, argmax); }
}

__global__ void averagePoolKernel(const float* x, int64_t C, PoolAxis rows, PoolAxis cols, bool channelsLast,
                                  int64_t n, float* y) {
  CR_GRID_STRIDE(i, n) { y[i] = averageAt(x, C, rows, cols, channelsLast, i); }
}

__global__ void averagePoolBackwardKernel(const float* dy, int64_t C, PoolAxis rows, PoolAxis cols, bool channelsLast,
                                          int64_t n, float* dx) {
  CR_GRID_STRIDE(i, n) { dx[i] = averageGradAt(dy, C, rows, cols, channelsLast, i); }
}

// dx (zeroed, dy's format) += dy at each argmax; an index outside the plane sets *outOfRange.
__global__ void maxPoolBackwardKernel(const float* dy, const int32_t* argmax, bool argmaxChannelsLast, int64_t C,
                                      int64_t outH, int64_t outW, int64_t H, int64_t W, bool channelsLast, int64_t n,
                                      float* dx, int32_t* outOfRange) {
  CR_GRID_STRIDE(i, n) {
    const Index4 o = unravel4(i, C, outH, outW, channelsLast);
    const int32_t index = argmax[offset4(o.n, o.c, o.h, o.w, C, outH, outW, argmaxChannelsLast)];
    if (index < 0 || index >= H * W) {
      *outOfRange = 1;
      continue;
    }
    atomicAdd(&dx[offset4(o.n, o.c, index / W, index % W, C, H, W, channelsLast)], dy[i]);
  }
}

// ---- Host side ----

bool isChannelsLast(const Tensor& t) { return t.format == MemoryFormat::ChannelsLast; }

Tensor averagePool(const Tensor& x, const PoolAxis& rows, const PoolAxis& cols) {
  Tensor y = cuda::empty({x.shape[0], x.shape[1], rows.out, cols.out}, DType::Float32, x.format);
  const int64_t n = y.numel();
  if (n == 0) return y;
  averagePoolKernel<<<blocksFor(n), kThreads, 0, stream()>>>(x.f32(), x.shape[1], rows, cols, isChannelsLast(x), n,
                                                              y.f32());
  CR_CUDA_CHECK_LAUNCH("averagePoolKernel");
  return y;
}

Tensor averagePoolBackward(const Tensor& dy, const Shape& xShape, const PoolAxis& rows, const PoolAxis& cols) {
  Tensor dx = cuda::empty(xShape, DType::Float32, dy.format);
  const int64_t n = dx.numel();
  if (n == 0) return dx;
  averagePoolBackwardKernel<<<blocksFor(n), kThreads, 0, stream()>>>(dy.f32(), xShape[1], rows, cols,
                                                                      isChannelsLast(dy), n, dx.f32());
  CR_CUDA_CHECK_LAUNCH("averagePoolBackwardKernel");
  return dx;
}

}  // namespace

MaxPoolResult maxPool2d(const Tensor& x, const Pool2dParams& p) {
  const Shape outShape = checkPool2d("maxPool2d", Device::CUDA, x, p);
  const PoolAxis rows = fixedAxis(x.shape[2], outShape[2], p.kernelH, p.strideH, p.padH, true);
  const PoolAxis cols = fixedAxis(x.shape[3], outShape[3], p.kernelW, p.strideW, p.padW, true);
  MaxPoolResult result{cuda::empty(outShape, DType::Float32, x.format), cuda::empty(outShape, DType::Int32, x.format)};
  const int64_t n = numelOf(outShape);
  if (n == 0) return result;
  maxPoolKernel<<<blocksFor(n), kThreads, 0, stream()>>>(x.f32(), x.shape[1], rows, cols, isChannelsLast(x), n,
                                                          result.y.f32(), result.argmax.data<int32_t>());
  CR_CUDA_CHECK_LAUNCH("maxPoolKernel");
  return result;
}

Tensor maxPool2dBackward(const Tensor& dy, const Tensor& argmax, const Shape& xShape) {
  checkMaxPool2dBackward(Device::CUDA, dy, argmax, xShape);
  Tensor dx = cuda::zeros(xShape, DType::Float32, dy.format);
  const int64_t n = dy.numel();
  if (n == 0) return dx;
  Tensor outOfRange = cuda::zeros({1}, DType::Int32);
  maxPoolBackwardKernel<<<blocksFor(n), kThreads, 0, stream()>>>(
      dy.f32(), argmax.data<int32_t>(), isChannelsLast(argmax), dy.shape[1], dy.shape[2], dy.shape[3], xShape[2],
      xShape[3], isChannelsLast(dy), n, dx.f32(), outOfRange.data<int32_t>());
  CR_CUDA_CHECK_LAUNCH("maxPoolBackwardKernel");
  // The CPU op rejects an argmax index outside the plane; here such an index is skipped (the kernel
  // flags it in outOfRange, never writes out of bounds) and not read back, since a read would
  // make every training step wait for the GPU. argmax only ever comes from maxPool2d.
  return dx;
}

Tensor avgPool2d(const Tensor& x, const Pool2dParams& p) {
  const Shape outShape = checkPool2d("avgPool2d", Device::CUDA, x, p);
  return averagePool(x, fixedAxis(x.shape[2], outShape[2], p.kernelH, p.strideH, p.padH, p.countIncludePad),
                     fixedAxis(x.shape[3], outShape[3], p.kernelW, p.strideW, p.padW, p.countIncludePad));
}

Tensor avgPool2dBackward(const Tensor& dy, const Shape& xShape, const Pool2dParams& p) {
  const Shape outShape = checkAvgPool2dBackward(Device::CUDA, dy, xShape, p);
  return averagePoolBackward(dy, xShape,
                             fixedAxis(xShape[2], outShape[2], p.kernelH, p.strideH, p.padH, p.countIncludePad),
                             fixedAxis(xShape[3], outShape[3], p.kernelW, p.strideW, p.padW, p.countIncludePad));
}

Tensor adaptiveAvgPool2d(const Tensor& x, int64_t outH, int64_t outW) {
  checkAdaptiveAvgPool2d(Device::CUDA, x, outH, outW);
  return averagePool(x, adaptiveAxis(x.shape[2], outH), adaptiveAxis(x.shape[3], outW));
}

Tensor adaptiveAvgPool2dBackward(const Tensor& dy, const Shape& xShape) {
  checkAdaptiveAvgPool2dBackward(Device::CUDA, dy, xShape);
  return averagePoolBackward(dy, xShape, adaptiveAxis(xShape[2], dy.shape[2]), adaptiveAxis(xShape[3], dy.shape[3]));
}

}  // namespace cr::cuda
