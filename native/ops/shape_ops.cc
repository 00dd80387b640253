#include "shape_ops.h"

#include "../core/error.h"

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

}  // namespace cr
