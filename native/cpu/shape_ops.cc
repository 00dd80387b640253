#include "shape_ops.h"

#include <cstring>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {

namespace {

// Splits a contiguous shape around `dim` into (outer, size at dim, inner).
void splitAt(const Shape& shape, int64_t dim, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= shape[i];
  for (size_t i = dim + 1; i < shape.size(); ++i) inner *= shape[i];
}

}  // namespace

Tensor concat(const std::vector<Tensor>& parts, int64_t dimIn) {
  int64_t dim = dimIn;
  const Shape outShape = concatShape(parts, dim, Device::CPU);
  Tensor out = empty(outShape);
  int64_t outer, inner;
  splitAt(outShape, dim, outer, inner);
  int64_t rowOut = outShape[dim] * inner;
  int64_t offset = 0;
  for (const Tensor& part : parts) {
    Tensor c = contiguous(part);
    int64_t rowIn = c.shape[dim] * inner;
    const float* src = c.f32();
    float* dst = out.f32() + offset;
    parallelFor(0, outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(rowIn, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) std::memcpy(dst + o * rowOut, src + o * rowIn, rowIn * sizeof(float));
    });
    offset += rowIn;
  }
  bool allLast = parts[0].format == MemoryFormat::ChannelsLast;
  return allLast ? toFormat(out, MemoryFormat::ChannelsLast) : out;
}

Tensor narrow(const Tensor& x, int64_t dimIn, int64_t start, int64_t length) {
  int64_t dim = narrowDim(x, dimIn, start, length, Device::CPU);
  Tensor c = contiguous(x);
  Shape outShape = x.shape;
  outShape[dim] = length;
  Tensor out = empty(outShape);
  int64_t outer, inner;
  splitAt(x.shape, dim, outer, inner);
  int64_t rowIn = x.shape[dim] * inner, rowOut = length * inner;
  const float* src = c.f32() + start * inner;
  float* dst = out.f32();
  parallelFor(0, outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(rowOut, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) std::memcpy(dst + o * rowOut, src + o * rowIn, rowOut * sizeof(float));
  });
  return x.format == MemoryFormat::ChannelsLast ? toFormat(out, MemoryFormat::ChannelsLast) : out;
}

Tensor shortcutA(const Tensor& x, int64_t outChannels, int64_t stride) {
  const ShortcutAShape g = shortcutAShape(x, outChannels, stride, Device::CPU);
  const int64_t n = g.n, c = g.c, h = g.h, w = g.w, ho = g.ho, wo = g.wo, before = g.before;
  Tensor cx = contiguous(x);
  Tensor out = zeros({n, outChannels, ho, wo});
  const float* src = cx.f32();
  float* dst = out.f32();
  parallelFor(0, n * c, 8, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* plane = src + nc * h * w;                                    // (H, W)
      float* outPlane = dst + ((nc / c) * outChannels + before + nc % c) * ho * wo;  // (Ho, Wo)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) outPlane[i * wo + j] = plane[i * stride * w + j * stride];
    }
  });
  return x.format == MemoryFormat::ChannelsLast ? toFormat(out, MemoryFormat::ChannelsLast) : out;
}

Tensor shortcutABackward(const Tensor& dy, const Shape& xShape, int64_t stride) {
  const ShortcutAShape g = shortcutABackwardShape(dy, xShape, stride, Device::CPU);
  const int64_t n = g.n, c = g.c, h = g.h, w = g.w, outChannels = g.outChannels, ho = g.ho, wo = g.wo, before = g.before;
  Tensor cdy = contiguous(dy);
  Tensor dx = zeros(xShape);
  const float* src = cdy.f32();
  float* dst = dx.f32();
  parallelFor(0, n * c, 8, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* gradPlane = src + ((nc / c) * outChannels + before + nc % c) * ho * wo;  // (Ho, Wo)
      float* plane = dst + nc * h * w;                                                      // (H, W)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) plane[i * stride * w + j * stride] = gradPlane[i * wo + j];
    }
  });
  return dy.format == MemoryFormat::ChannelsLast ? toFormat(dx, MemoryFormat::ChannelsLast) : dx;
}

}  // namespace cr
