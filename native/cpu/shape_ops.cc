#include "shape_ops.h"

#include <cstring>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {

int64_t normaliseDim(const char* op, int64_t dim, int64_t rank) {
  int64_t d = dim < 0 ? dim + rank : dim;
  CR_CHECK_RANGE(d >= 0 && d < rank, op, ": dimension ", dim, " is out of range for a ", rank, "-D tensor");
  return d;
}

Shape concatShape(const std::vector<Tensor>& parts, int64_t& dim, Device device) {
  CR_CHECK_RANGE(!parts.empty(), "concat: needs at least one tensor");
  const Shape& first = parts[0].shape;
  dim = normaliseDim("concat", dim, static_cast<int64_t>(first.size()));
  Shape outShape = first;
  outShape[dim] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    expectFloat32On(device, "concat", "every tensor", parts[i]);
    const Shape& s = parts[i].shape;
    CR_CHECK_RANGE(s.size() == first.size(), "concat: tensor ", i, " has shape ", shapeString(s),
                   " but tensor 0 has shape ", shapeString(first), " (ranks differ)");
    for (size_t d = 0; d < s.size(); ++d)
      CR_CHECK_RANGE(static_cast<int64_t>(d) == dim || s[d] == first[d], "concat: tensor ", i, " has shape ",
                     shapeString(s), " but tensor 0 has shape ", shapeString(first), "; only dimension ", dim,
                     " may differ");
    outShape[dim] += s[dim];
  }
  return outShape;
}

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

int64_t narrowDim(const Tensor& x, int64_t dimIn, int64_t start, int64_t length, Device device) {
  expectFloat32On(device, "narrow", "input", x);
  int64_t dim = normaliseDim("narrow", dimIn, x.dim());
  CR_CHECK_RANGE(start >= 0 && length >= 0 && start + length <= x.shape[dim], "narrow: range [", start, ", ",
                 start + length, ") is outside dimension ", dim, " of size ", x.shape[dim]);
  return dim;
}

ShortcutAShape shortcutAShape(const Tensor& x, int64_t outChannels, int64_t stride, Device device) {
  expectFloat32On(device, "shortcutA", "input", x);
  expectDim("shortcutA", "input", x, 4);
  int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  CR_CHECK_RANGE(stride >= 1, "shortcutA: stride must be at least 1, got ", stride);
  CR_CHECK_RANGE(outChannels >= c, "shortcutA: outChannels (", outChannels, ") must be at least the input's ", c);
  return {n, c, h, w, outChannels, (h + stride - 1) / stride, (w + stride - 1) / stride, (outChannels - c) / 2};
}

ShortcutAShape shortcutABackwardShape(const Tensor& dy, const Shape& xShape, int64_t stride, Device device) {
  expectFloat32On(device, "shortcutABackward", "grad", dy);
  CR_CHECK_RANGE(xShape.size() == 4, "shortcutABackward: input shape must be 4-D");
  CR_CHECK_RANGE(stride >= 1, "shortcutABackward: stride must be at least 1, got ", stride);
  int64_t n = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3];
  int64_t outChannels = dy.dim() >= 2 ? dy.shape[1] : 0;
  int64_t ho = (h + stride - 1) / stride, wo = (w + stride - 1) / stride;
  expectShape("shortcutABackward", "grad", dy, {n, outChannels, ho, wo});
  CR_CHECK_RANGE(outChannels >= c, "shortcutABackward: grad has ", outChannels, " channels, fewer than the input's ",
                 c);
  return {n, c, h, w, outChannels, ho, wo, (outChannels - c) / 2};
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
