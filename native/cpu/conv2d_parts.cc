// The shared parts of the CPU convolution (conv2d_parts.h).
#include "conv2d_parts.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "../core/cpu_features.h"
#include "../core/error.h"
#include "../core/float_bits.h"
#include "gemm_bf16.h"
#include "strided_copy.h"
#include "winograd.h"

namespace cr {
namespace conv2d_parts {

Geometry geometry(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op) {
  const Shape out = conv2dOutputShape(x, w, p, op);  // the checks (ops/conv2d.h)
  Geometry g;
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.O = w[0], g.kH = w[2], g.kW = w[3];
  g.groups = p.groups;
  g.Cg = g.C / g.groups;
  g.Og = g.O / g.groups;
  g.Ho = out[2];
  g.Wo = out[3];
  g.K = g.Cg * g.kH * g.kW;
  g.HW = g.H * g.W;
  g.HWo = g.Ho * g.Wo;
  g.pointwise = g.kH == 1 && g.kW == 1 && p.strideH == 1 && p.strideW == 1 && p.padH == 0 && p.padW == 0;
  return g;
}

// The output positions [lo, hi) among outSize whose input index o * stride + offset lies in [0, size).
void validRange(int64_t offset, int64_t stride, int64_t size, int64_t outSize, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = size - 1 - offset >= 0 ? (size - 1 - offset) / stride + 1 : 0;
  lo = std::min(lo, outSize);
  hi = std::max(lo, std::min(hi, outSize));
}

// Channels per task of im2col / col2im: about 32K column-matrix floats. Outside a parallel region
// (a batch smaller than the thread count: one image at a time) the channels are shared among the
// threads; inside one (an image chunk per thread) parallelFor runs serially.
int64_t channelGrain(const Geometry& g) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, g.kH * g.kW * g.HWo));
}

// Rows (c, i, j) of the column matrix for channels [c0, c1) and output positions [q0, q1) (q = oh * Wo + ow),
// from x (Cg, H, W): col (K, q1 - q0) with row stride ldcol, whose row (c, i, j) holds
// x[c, oh*sH + i*dH - pH, ow*sW + j*dW - pW], zero where that falls in the padding.
void im2colBlock(const float* x, float* col, int64_t ldcol, const Geometry& g, const Conv2dParams& p, int64_t c0,
                 int64_t c1, int64_t q0, int64_t q1) {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kH; ++i)
      for (int64_t j = 0; j < g.kW; ++j) {
        const float* plane = x + c * g.HW;                             // (H, W)
        float* row = col + ((c * g.kH + i) * g.kW + j) * ldcol - q0;  // indexed by q in [q0, q1)
        int64_t offH = i * p.dilationH - p.padH, offW = j * p.dilationW - p.padW, lo, hi, ohLo, ohHi;
        validRange(offW, p.strideW, g.W, g.Wo, lo, hi);
        validRange(offH, p.strideH, g.H, g.Ho, ohLo, ohHi);
        // Output rows [full0, full1): wholly inside [q0, q1), their input rows inside x; copied in one call.
        const int64_t full0 = std::max((q0 + g.Wo - 1) / g.Wo, ohLo), full1 = std::min(q1 / g.Wo, ohHi);
        for (int64_t oh = q0 / g.Wo; oh * g.Wo < q1; ++oh) {
          if (oh == full0 && full0 < full1) {
            for (int64_t r = full0; r < full1; ++r) {
              std::fill(row + r * g.Wo, row + r * g.Wo + lo, 0.0f);
              std::fill(row + r * g.Wo + hi, row + (r + 1) * g.Wo, 0.0f);
            }
            copyStridedRows(plane + (full0 * p.strideH + offH) * g.W + lo * p.strideW + offW, p.strideW,
                            p.strideH * g.W, row + full0 * g.Wo + lo, g.Wo, hi - lo, full1 - full0);
            oh = full1 - 1;
            continue;
          }
          // output row oh, columns [w0, w1) of it inside [q0, q1)
          const int64_t w0 = std::max<int64_t>(0, q0 - oh * g.Wo), w1 = std::min(g.Wo, q1 - oh * g.Wo);
          float* out = row + oh * g.Wo;  // (Wo)
          int64_t ih = oh * p.strideH + offH;
          if (ih < 0 || ih >= g.H) {
            std::fill(out + w0, out + w1, 0.0f);
            continue;
          }
          const float* in = plane + ih * g.W;  // (W)
          const int64_t l = std::clamp(lo, w0, w1), h = std::clamp(hi, l, w1);
          std::fill(out + w0, out + l, 0.0f);
          if (p.strideW == 1) {
            std::memcpy(out + l, in + l + offW, static_cast<size_t>(h - l) * sizeof(float));
          } else {
            copyStrided(in + l * p.strideW + offW, p.strideW, out + l, h - l);
          }
          std::fill(out + h, out + w1, 0.0f);
        }
      }
}

// col (K, Ho * Wo) from x (Cg, H, W), the channels shared among the threads.
void im2col(const float* x, float* col, const Geometry& g, const Conv2dParams& p) {
  parallelFor(0, g.Cg, channelGrain(g),
              [&](int64_t c0, int64_t c1) { im2colBlock(x, col, g.HWo, g, p, c0, c1, 0, g.HWo); });
}

// The adjoint of im2colBlock: dx (Cg, H, W) += every entry of columns [q0, q1) of dcol (K, q1 - q0), row
// stride ldcol, at the position it was read from, for channels [c0, c1). Each element of dx receives
// its entries in the order (i, j, oh) of the rows and positions that read it.
void col2imBlock(const float* dcol, int64_t ldcol, float* dx, const Geometry& g, const Conv2dParams& p, int64_t c0,
                 int64_t c1, int64_t q0, int64_t q1) {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kH; ++i)
      for (int64_t j = 0; j < g.kW; ++j) {
        float* plane = dx + c * g.HW;                                         // (H, W)
        const float* row = dcol + ((c * g.kH + i) * g.kW + j) * ldcol - q0;  // indexed by q in [q0, q1)
        int64_t offH = i * p.dilationH - p.padH, offW = j * p.dilationW - p.padW, lo, hi;
        validRange(offW, p.strideW, g.W, g.Wo, lo, hi);
        for (int64_t oh = q0 / g.Wo; oh * g.Wo < q1; ++oh) {
          const int64_t ih = oh * p.strideH + offH;
          if (ih < 0 || ih >= g.H) continue;
          // output row oh, columns [w0, w1) of it inside [q0, q1), of which [l, h) read inside the row
          const int64_t w0 = std::max<int64_t>(0, q0 - oh * g.Wo), w1 = std::min(g.Wo, q1 - oh * g.Wo);
          const int64_t l = std::clamp(lo, w0, w1), h = std::clamp(hi, l, w1);
          const float* __restrict in = row + oh * g.Wo;  // (Wo)
          float* __restrict out = plane + ih * g.W;      // (W)
          if (p.strideW == 1) {
            for (int64_t ow = l; ow < h; ++ow) out[ow + offW] += in[ow];
          } else {
            for (int64_t ow = l; ow < h; ++ow) out[ow * p.strideW + offW] += in[ow];
          }
        }
      }
}

// The adjoint of im2col: dx (Cg, H, W) += every entry of dcol (K, Ho * Wo) at the position it was read
// from, the channels shared among the threads.
void col2im(const float* dcol, float* dx, const Geometry& g, const Conv2dParams& p) {
  parallelFor(0, g.Cg, channelGrain(g),
              [&](int64_t c0, int64_t c1) { col2imBlock(dcol, g.HWo, dx, g, p, c0, c1, 0, g.HWo); });
}

WinogradUse winogradUse(const Geometry& g, const Conv2dParams& p) {
  WinogradUse use;
  if (g.kH != 3 || g.kW != 3 || p.strideH != 1 || p.strideW != 1 || p.dilationH != 1 || p.dilationW != 1 ||
      g.groups != 1 || p.padH > 2 || p.padW > 2 || g.N == 0 || g.C == 0 || g.O == 0)
    return use;
  const winograd::Mode mode = winograd::mode();
  if (mode == winograd::Mode::Off) return use;
  if (mode == winograd::Mode::Force) {
    use.forward = use.data = use.filter = true;
    return use;
  }
  // Measured on a 2-core AVX2 machine (bench/RESULTS.md), then again on a 2-core AVX-512 Zen 5
  // with the AVX-512 transforms, im2col / Winograd CPU time per pass, one thread:
  //   x (N, C@HxW), C = O   fwd    dx     dw   |  x            fwd    dx     dw
  //   128, 16@32x32         1.49   1.39   4.36 |  1, 64@56x56  1.40   1.16   1.14
  //   128, 32@16x16         1.65   1.36   2.46 |  4, 64@56x56  1.42   1.16   1.39
  //   128, 64@8x8           1.73   1.40   1.75 |  8, 64@56x56  1.36   1.14   1.47
  //    32, 64@8x8           1.78   1.33   1.21 |  1, 64@28x28  1.30   1.10   0.48
  //     1, 128@28x28        1.27   0.99   0.50 |  2, 128@28    1.18   1.06   0.71
  //     8, 128@28x28        1.32   1.16   0.95 |  4, 256@14    1.10   0.98   0.71
  //     8, 256@14x14        1.30   1.13   0.65 |  1, 256@14    0.78   0.62   0.56
  //     8, 512@7x7          0.91   0.65   0.25 | 16, 512@7     0.92   0.78   0.48
  // and two threads (wall time) at batch 1: forward 1.2x .. 1.6x on 64@14x14 .. 64@56x56,
  // backward-data 0.53x .. 0.96x below 256 tiles, filter gradient 0.86x on 64@56x56.
  // The forward pass wins wherever streaming the transformed weights (16 * C * O floats) per chunk
  // of tiles is amortised; backward-data, which transforms the flipped weights at every call (the
  // forward's are kept with the tensor), also needs enough tiles to share the threads. The filter
  // gradient's dot products win at small channel counts (CIFAR ResNets, and 64 channels with
  // enough tiles) and lose to im2col + GEMM at ImageNet widths.
  const int64_t tiles = g.N * ((g.Ho + 1) / 2) * ((g.Wo + 1) / 2);
  use.forward = tiles >= std::max<int64_t>(32, g.C * g.O / 256);
  use.data = tiles >= std::max<int64_t>(256, g.C * g.O / 256);
  use.filter = g.C * g.O <= 64 * 64 && tiles >= 256 && (g.HWo <= 1024 || tiles >= 1536);
  return use;
}

// What a convolution's prepared weights depend on besides their contents: the path, the
// instruction set, the weight's shape and format, and the groups.
std::string preparedKey(const char* form, const Tensor& weight, const Geometry& g) {
  return std::string("conv2d ") + form + " " + cpuIsaName(cpuIsa()) + " " +
         shapeString(weight.shape) + (weight.format == MemoryFormat::Contiguous ? " nchw" : " nhwc") + " groups " +
         std::to_string(g.groups);
}

void checkBf16(const char* op) {
  CR_CHECK_TYPE(bf16ComputeNative(), op, ": bf16Compute needs AVX-512 BF16 and the avx512 instruction set (",
                "CUDNN_RESNET_BF16=emulated or another instruction set is in force, or the CPU lacks it)");
}

float roundedToBf16(float v) { return bfloat16ToFloat(floatToBFloat16(v)); }

Tensor inFormat(const Tensor& t, MemoryFormat format) {
  return t.format == format ? t : toFormat(t, format);
}

}  // namespace conv2d_parts
}  // namespace cr
