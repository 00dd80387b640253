// The CPU convBnStats: the composition of conv_bn_stats.h, in float32 with statistics in double.
#include "conv_bn_stats.h"

#include <algorithm>
#include <vector>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {
namespace {

constexpr const char* kOp = "convBnStats";

// A 4-D tensor seen as (outer, C, inner): element (o, c, i) lies at (o * C + c) * inner + i.
// Contiguous (N, C, H, W) is (N, C, H * W); channelsLast is (N * H * W, C, 1).
struct ChannelLayout {
  int64_t outer, channels, inner;
};

ChannelLayout layoutOf(const Tensor& t) {
  const int64_t plane = t.shape[2] * t.shape[3];
  if (t.format == MemoryFormat::ChannelsLast) return {t.shape[0] * plane, t.shape[1], 1};
  return {t.shape[0], t.shape[1], plane};
}

// z = max(0, x * scale + bias) (each part optional), in x's memory format.
Tensor prologue(const Tensor& x, const Tensor* scale, const Tensor* bias, bool relu) {
  if (!scale && !bias && !relu) return x;
  Tensor z = empty(x.shape, DType::Float32, x.format);  // (N, C, H, W)
  const ChannelLayout L = layoutOf(x);
  const float* in = x.f32();
  float* out = z.f32();
  const float* s = scale ? scale->f32() : nullptr;  // (C)
  const float* b = bias ? bias->f32() : nullptr;    // (C)
  parallelFor(0, L.outer, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, L.channels * L.inner)),
              [&](int64_t o0, int64_t o1) {
                for (int64_t o = o0; o < o1; ++o)
                  for (int64_t c = 0; c < L.channels; ++c) {
                    const int64_t at = (o * L.channels + c) * L.inner;
                    const float sc = s ? s[c] : 1.0f, bc = b ? b[c] : 0.0f;
                    for (int64_t i = 0; i < L.inner; ++i) {
                      float v = in[at + i] * sc + bc;
                      out[at + i] = relu ? (v > 0.0f ? v : (v == v ? 0.0f : v)) : v;  // NaN passes through
                    }
                  }
              });
  return z;
}

}  // namespace

ConvBnStatsResult convBnStats(const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                                     bool relu, const Conv2dParams& p) {
  expectFloat32(kOp, "x", x);
  expectFloat32(kOp, "weight", weight);
  checkConvBnStats(Device::CPU, x, weight, scale, bias, p);
  ConvBnStatsResult r;
  r.y = conv2d(prologue(x, scale, bias, relu), weight, nullptr, p);  // (N, O, Ho, Wo)
  const ChannelLayout L = layoutOf(r.y);
  r.sum = empty({L.channels});    // (O)
  r.sqSum = empty({L.channels});  // (O)
  std::vector<double> sums(static_cast<size_t>(L.channels)), squares(static_cast<size_t>(L.channels));
  const float* y = r.y.f32();
  for (int64_t o = 0; o < L.outer; ++o)
    for (int64_t c = 0; c < L.channels; ++c) {
      const float* run = y + (o * L.channels + c) * L.inner;
      double s = 0, q = 0;
      for (int64_t i = 0; i < L.inner; ++i) {
        s += run[i];
        q += static_cast<double>(run[i]) * run[i];
      }
      sums[c] += s;
      squares[c] += q;
    }
  for (int64_t c = 0; c < L.channels; ++c) {
    r.sum.f32()[c] = static_cast<float>(sums[c]);
    r.sqSum.f32()[c] = static_cast<float>(squares[c]);
  }
  return r;
}

}  // namespace cr
