#include "pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {
namespace {

// Elements per parallel task, roughly.
constexpr int64_t kGrainElements = 1 << 14;

// The input span [begin, end) one output position reads along an axis, and the size its sum is divided
// by when averaging.
struct AxisWindow { int64_t begin, end, divisor; };

// Fixed-kernel windows along one axis, as PyTorch: the window is clipped to the padded input for the divisor
// that counts padding, and to the input itself for the elements read.
std::vector<AxisWindow> poolWindows(int64_t inSize, int64_t outSize, int64_t kernel, int64_t stride, int64_t pad,
                                    bool countIncludePad) {
  std::vector<AxisWindow> windows(static_cast<size_t>(outSize));  // (outSize)
  for (int64_t o = 0; o < outSize; ++o) {
    const int64_t start = o * stride - pad;
    const int64_t paddedEnd = std::min(start + kernel, inSize + pad);
    const int64_t begin = std::max<int64_t>(start, 0), end = std::min(paddedEnd, inSize);
    windows[o] = {begin, end, countIncludePad ? paddedEnd - start : end - begin};
  }
  return windows;
}

// Adaptive windows: output o spans [floor(o * in / out), ceil((o + 1) * in / out)).
std::vector<AxisWindow> adaptiveWindows(int64_t inSize, int64_t outSize) {
  std::vector<AxisWindow> windows(static_cast<size_t>(outSize));  // (outSize)
  for (int64_t o = 0; o < outSize; ++o) {
    const int64_t begin = o * inSize / outSize, end = ((o + 1) * inSize + outSize - 1) / outSize;
    windows[o] = {begin, end, end - begin};
  }
  return windows;
}

// Calls fn(plane) for each of `planes` (N * C) planes in parallel; workPerPlane sizes the tasks.
template <typename Fn>
void forEachPlane(int64_t planes, int64_t workPerPlane, const Fn& fn) {
  parallelFor(0, planes, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, workPerPlane)),
              [&](int64_t planeBegin, int64_t planeEnd) {
                for (int64_t plane = planeBegin; plane < planeEnd; ++plane) fn(plane);
              });
}

#if defined(__x86_64__)
// Outputs of one row whose max-pool windows are scanned together, 4 to an SSE2 vector (the
// x86-64 baseline): a single window is a chain of dependent, unpredictable compares; kGroup
// windows in step are independent chains, selected by masks instead of branches.
constexpr size_t kGroup = 8;

bool sameWidth(const std::vector<AxisWindow>& cols, size_t ow) {
  for (size_t k = 1; k < kGroup; ++k)
    if (cols[ow + k].end - cols[ow + k].begin != cols[ow].end - cols[ow].begin) return false;
  return true;
}

// The maxima and their flat indices of kGroup windows (rows r, columns cols[0..kGroup), all of one
// width) of the (., W) plane `in`, each window read in the order of the scalar loop (row by row,
// left to right; a larger value or a NaN replaces the best), so the same values and indices.
void maxGroup(const float* in, int64_t W, const AxisWindow& r, const AxisWindow* cols, float* out, int32_t* outIndex) {
  const int64_t width = cols[0].end - cols[0].begin;
  alignas(16) int32_t starts[kGroup];
  for (size_t k = 0; k < kGroup; ++k) starts[k] = static_cast<int32_t>(cols[k].begin);
  __m128 best[kGroup / 4];
  __m128i bestIndex[kGroup / 4];
  for (size_t q = 0; q < kGroup / 4; ++q) {
    best[q] = _mm_set1_ps(-std::numeric_limits<float>::infinity());
    bestIndex[q] = _mm_add_epi32(_mm_set1_epi32(static_cast<int32_t>(r.begin * W)),
                                 _mm_load_si128(reinterpret_cast<const __m128i*>(starts + 4 * q)));
  }
  for (int64_t ih = r.begin; ih < r.end; ++ih) {
    const float* row = in + ih * W;
    for (int64_t d = 0; d < width; ++d)
      for (size_t q = 0; q < kGroup / 4; ++q) {
        const int32_t* b = starts + 4 * q;
        const __m128 v = _mm_setr_ps(row[b[0] + d], row[b[1] + d], row[b[2] + d], row[b[3] + d]);
        const __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, best[q]), _mm_cmpunord_ps(v, v));
        best[q] = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, best[q]));
        const __m128i index = _mm_add_epi32(_mm_set1_epi32(static_cast<int32_t>(ih * W + d)),
                                            _mm_load_si128(reinterpret_cast<const __m128i*>(b)));
        const __m128i mask = _mm_castps_si128(take);
        bestIndex[q] = _mm_or_si128(_mm_and_si128(mask, index), _mm_andnot_si128(mask, bestIndex[q]));
      }
  }
  for (size_t q = 0; q < kGroup / 4; ++q) {
    _mm_storeu_ps(out + 4 * q, best[q]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(outIndex + 4 * q), bestIndex[q]);
  }
}
#endif

Tensor inFormat(const Tensor& t, MemoryFormat format) { return t.format == format ? t : toFormat(t, format); }

// out (Ho, Wo) plane = window averages of in (H, W) plane.
void averageWindows(const float* in, int64_t inW, const std::vector<AxisWindow>& rows,
                    const std::vector<AxisWindow>& cols, float* out) {
  for (size_t oh = 0; oh < rows.size(); ++oh)
    for (size_t ow = 0; ow < cols.size(); ++ow) {
      const AxisWindow &r = rows[oh], &c = cols[ow];
      double sum = 0;
      for (int64_t ih = r.begin; ih < r.end; ++ih)
        for (int64_t iw = c.begin; iw < c.end; ++iw) sum += in[ih * inW + iw];
      *out++ = static_cast<float>(sum / static_cast<double>(r.divisor * c.divisor));
    }
}

// dx (H, W) plane += each dy (Ho, Wo) value spread evenly over its window; dx starts zeroed.
void spreadOverWindows(const float* dy, int64_t inW, const std::vector<AxisWindow>& rows,
                       const std::vector<AxisWindow>& cols, float* dx) {
  for (size_t oh = 0; oh < rows.size(); ++oh)
    for (size_t ow = 0; ow < cols.size(); ++ow) {
      const AxisWindow &r = rows[oh], &c = cols[ow];
      const float share = static_cast<float>(static_cast<double>(*dy++) / static_cast<double>(r.divisor * c.divisor));
      for (int64_t ih = r.begin; ih < r.end; ++ih)
        for (int64_t iw = c.begin; iw < c.end; ++iw) dx[ih * inW + iw] += share;
    }
}

// Forward of an averaging pool given its windows; the output keeps x's memory format.
Tensor averagePool(const Tensor& x, const std::vector<AxisWindow>& rows, const std::vector<AxisWindow>& cols) {
  const Tensor xNchw = contiguous(x);
  const int64_t H = x.shape[2], W = x.shape[3];
  const int64_t outH = static_cast<int64_t>(rows.size()), outW = static_cast<int64_t>(cols.size());
  Tensor y = empty({x.shape[0], x.shape[1], outH, outW});  // (N, C, Ho, Wo)
  forEachPlane(x.shape[0] * x.shape[1], H * W, [&](int64_t plane) {
    averageWindows(xNchw.f32() + plane * H * W, W, rows, cols, y.f32() + plane * outH * outW);
  });
  return inFormat(y, x.format);
}

// Backward of an averaging pool given its windows; dx has dy's memory format.
Tensor averagePoolBackward(const Tensor& dy, const Shape& xShape, const std::vector<AxisWindow>& rows,
                           const std::vector<AxisWindow>& cols) {
  const Tensor dyNchw = contiguous(dy);
  const int64_t H = xShape[2], W = xShape[3], outPlane = dy.shape[2] * dy.shape[3];
  Tensor dx = zeros(xShape);  // (N, C, H, W)
  forEachPlane(xShape[0] * xShape[1], H * W, [&](int64_t plane) {
    spreadOverWindows(dyNchw.f32() + plane * outPlane, W, rows, cols, dx.f32() + plane * H * W);
  });
  return inFormat(dx, dy.format);
}

}  // namespace

MaxPoolResult maxPool2d(const Tensor& x, const Pool2dParams& p) {
  const Shape outShape = checkPool2d("maxPool2d", Device::CPU, x, p);
  const int64_t H = x.shape[2], W = x.shape[3], outH = outShape[2], outW = outShape[3];
  const auto rows = poolWindows(H, outH, p.kernelH, p.strideH, p.padH, true);
  const auto cols = poolWindows(W, outW, p.kernelW, p.strideW, p.padW, true);
  const Tensor xNchw = contiguous(x);
  Tensor y = empty(outShape);                        // (N, C, Ho, Wo)
  Tensor argmax = empty(outShape, DType::Int32);     // (N, C, Ho, Wo)
  forEachPlane(x.shape[0] * x.shape[1], H * W, [&](int64_t plane) {
    const float* in = xNchw.f32() + plane * H * W;
    float* out = y.f32() + plane * outH * outW;
    int32_t* outIndex = argmax.data<int32_t>() + plane * outH * outW;
    for (const AxisWindow& r : rows)
      for (size_t ow = 0; ow < cols.size();) {
#if defined(__x86_64__)
        if (ow + kGroup <= cols.size() && sameWidth(cols, ow)) {
          maxGroup(in, W, r, &cols[ow], out, outIndex);
          out += kGroup;
          outIndex += kGroup;
          ow += kGroup;
          continue;
        }
#endif
        const AxisWindow& c = cols[ow++];
        // Padding is -inf: the first element read wins unless a larger one (or a NaN) follows.
        float best = -std::numeric_limits<float>::infinity();
        int64_t bestIndex = r.begin * W + c.begin;
        for (int64_t ih = r.begin; ih < r.end; ++ih)
          for (int64_t iw = c.begin; iw < c.end; ++iw) {
            const float v = in[ih * W + iw];
            if (v > best || std::isnan(v)) {
              best = v;
              bestIndex = ih * W + iw;
            }
          }
        *out++ = best;
        *outIndex++ = static_cast<int32_t>(bestIndex);
      }
  });
  return {inFormat(y, x.format), inFormat(argmax, x.format)};
}

Tensor maxPool2dBackward(const Tensor& dy, const Tensor& argmax, const Shape& xShape) {
  const char* op = "maxPool2dBackward";
  checkMaxPool2dBackward(Device::CPU, dy, argmax, xShape);
  const Tensor dyNchw = contiguous(dy);
  const Tensor argmaxNchw = contiguous(argmax);
  const int64_t planeSize = xShape[2] * xShape[3], outPlane = dy.shape[2] * dy.shape[3];
  Tensor dx = zeros(xShape);  // (N, C, H, W)
  std::atomic<bool> indexOutOfRange{false};
  forEachPlane(xShape[0] * xShape[1], outPlane, [&](int64_t plane) {
    const float* g = dyNchw.f32() + plane * outPlane;
    const int32_t* index = argmaxNchw.data<int32_t>() + plane * outPlane;
    float* grad = dx.f32() + plane * planeSize;
    for (int64_t o = 0; o < outPlane; ++o) {
      if (index[o] < 0 || index[o] >= planeSize) {
        indexOutOfRange = true;
        continue;
      }
      grad[index[o]] += g[o];
    }
  });
  CR_CHECK_RANGE(!indexOutOfRange, op, ": argmax holds an index outside the ", xShape[2], "x", xShape[3],
                 " input plane");
  return inFormat(dx, dy.format);
}

Tensor avgPool2d(const Tensor& x, const Pool2dParams& p) {
  const Shape outShape = checkPool2d("avgPool2d", Device::CPU, x, p);
  return averagePool(x, poolWindows(x.shape[2], outShape[2], p.kernelH, p.strideH, p.padH, p.countIncludePad),
                     poolWindows(x.shape[3], outShape[3], p.kernelW, p.strideW, p.padW, p.countIncludePad));
}

Tensor avgPool2dBackward(const Tensor& dy, const Shape& xShape, const Pool2dParams& p) {
  const Shape outShape = checkAvgPool2dBackward(Device::CPU, dy, xShape, p);
  return averagePoolBackward(
      dy, xShape, poolWindows(xShape[2], outShape[2], p.kernelH, p.strideH, p.padH, p.countIncludePad),
      poolWindows(xShape[3], outShape[3], p.kernelW, p.strideW, p.padW, p.countIncludePad));
}

Tensor adaptiveAvgPool2d(const Tensor& x, int64_t outH, int64_t outW) {
  checkAdaptiveAvgPool2d(Device::CPU, x, outH, outW);
  return averagePool(x, adaptiveWindows(x.shape[2], outH), adaptiveWindows(x.shape[3], outW));
}

Tensor adaptiveAvgPool2dBackward(const Tensor& dy, const Shape& xShape) {
  checkAdaptiveAvgPool2dBackward(Device::CPU, dy, xShape);
  return averagePoolBackward(dy, xShape, adaptiveWindows(xShape[2], dy.shape[2]),
                             adaptiveWindows(xShape[3], dy.shape[3]));
}

}  // namespace cr
