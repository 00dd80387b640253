// CPU 2-D convolution: im2col + sgemm per (image, group), parallelised over the batch. The weights'
// GEMM panels (W_g for the forward pass, W_g^T for the input gradient) and Winograd transform are
// made once and kept with the weight tensor until it is written in place (derivedFrom, tensor.h).
//   forward:  y_g (Og, Ho*Wo)  = W_g (Og, K) * col (K, Ho*Wo)          [+ bias, in the GEMM's epilogue]
//   dweight:  dW_g (Og, K)    += dy_g (Og, Ho*Wo) * col^T (Ho*Wo, K)   summed over images
//   dx:       dcol (K, Ho*Wo)  = W_g^T (K, Og) * dy_g (Og, Ho*Wo), then col2im into dx
// with K = (C / groups) * kH * kW. A 1x1 kernel with stride 1 and no padding uses the image itself
// as the column matrix. Stride-1 3x3 convolutions go to Winograd F(2x2, 3x3) (winograd.h) where that
// is faster; CUDNN_RESNET_CONV=im2col keeps every convolution on im2col.
// convBiasAct is the same forward pass with a longer epilogue (epilogue.h): + bias, + z, ReLU on each
// tile of y as the GEMM (or Winograd's output transform) writes it.
#include "conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/error.h"
#include "../core/parallel.h"
#include "epilogue.h"
#include "gemm.h"
#include "winograd.h"

namespace cr {
namespace {

constexpr const char* kOp = "conv2d";
constexpr const char* kFusedOp = "convBiasAct";

// Sizes of one convolution, derived from checked shapes.
struct Geometry {
  int64_t N, C, H, W, O, kH, kW, Ho, Wo, groups;
  int64_t Cg, Og;   // channels per group of x and of y
  int64_t K;        // Cg * kH * kW: rows of the column matrix
  int64_t HW, HWo;  // H * W and Ho * Wo
  bool pointwise;   // 1x1 kernel, stride 1, no padding: the image is its own column matrix
};

Geometry geometry(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op = kOp) {
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

// col (K, Ho * Wo) from x (Cg, H, W): row (c, i, j) holds x[c, oh*sH + i*dH - pH, ow*sW + j*dW - pW],
// zero where that falls in the padding.
void im2col(const float* x, float* col, const Geometry& g, const Conv2dParams& p) {
  parallelFor(0, g.Cg, channelGrain(g), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t i = 0; i < g.kH; ++i)
        for (int64_t j = 0; j < g.kW; ++j) {
          const float* plane = x + c * g.HW;                       // (H, W)
          float* row = col + ((c * g.kH + i) * g.kW + j) * g.HWo;  // (Ho, Wo)
          int64_t offH = i * p.dilationH - p.padH, offW = j * p.dilationW - p.padW, lo, hi;
          validRange(offW, p.strideW, g.W, g.Wo, lo, hi);
          for (int64_t oh = 0; oh < g.Ho; ++oh) {
            float* out = row + oh * g.Wo;  // (Wo)
            int64_t ih = oh * p.strideH + offH;
            if (ih < 0 || ih >= g.H) {
              std::fill(out, out + g.Wo, 0.0f);
              continue;
            }
            const float* in = plane + ih * g.W;  // (W)
            std::fill(out, out + lo, 0.0f);
            if (p.strideW == 1) {
              std::memcpy(out + lo, in + lo + offW, static_cast<size_t>(hi - lo) * sizeof(float));
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * p.strideW + offW];
            }
            std::fill(out + hi, out + g.Wo, 0.0f);
          }
        }
  });
}

// The adjoint of im2col: dx (Cg, H, W) += every entry of dcol (K, Ho * Wo) at the position it was read from.
void col2im(const float* dcol, float* dx, const Geometry& g, const Conv2dParams& p) {
  parallelFor(0, g.Cg, channelGrain(g), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t i = 0; i < g.kH; ++i)
        for (int64_t j = 0; j < g.kW; ++j) {
          float* plane = dx + c * g.HW;                                   // (H, W)
          const float* row = dcol + ((c * g.kH + i) * g.kW + j) * g.HWo;  // (Ho, Wo)
          int64_t offH = i * p.dilationH - p.padH, offW = j * p.dilationW - p.padW, lo, hi;
          validRange(offW, p.strideW, g.W, g.Wo, lo, hi);
          for (int64_t oh = 0; oh < g.Ho; ++oh) {
            int64_t ih = oh * p.strideH + offH;
            if (ih < 0 || ih >= g.H) continue;
            const float* in = row + oh * g.Wo;  // (Wo)
            float* out = plane + ih * g.W;      // (W)
            for (int64_t ow = lo; ow < hi; ++ow) out[ow * p.strideW + offW] += in[ow];
          }
        }
  });
}

// Calls fn(n0, n1) on chunks of the batch. With at least as many images as threads there is one chunk
// per thread and sgemm runs serially inside each; otherwise a single chunk, so sgemm uses the threads.
template <typename F>
void forEachImageChunk(int64_t N, const F& fn) {
  int64_t threads = numThreads();
  parallelFor(0, N, N >= threads ? (N + threads - 1) / threads : N, fn);
}

// Which passes of a convolution run as Winograd F(2x2, 3x3): 3x3 kernel, stride 1, dilation 1,
// one group, padding 0..2, on a CPU with AVX2 + FMA, where the shape favours it (winograd::Mode).
struct WinogradUse {
  bool forward = false, data = false, filter = false;
};

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

Tensor inFormat(const Tensor& t, MemoryFormat format) {
  return t.format == format ? t : toFormat(t, format);
}

// y = act(conv(x, weight) + bias + z), the epilogue applied to each block of y as it is computed:
// by the GEMM to each tile of an (image, group) product, or by Winograd's output transform.
Tensor forwardWithEpilogue(const char* op, const Tensor& xIn, const Tensor& weightIn, const Tensor* bias,
                           const Tensor* zIn, bool relu, const Conv2dParams& p) {
  expectFloat32(op, "x", xIn);
  expectFloat32(op, "weight", weightIn);
  Geometry g = geometry(xIn.shape, weightIn.shape, p, op);
  if (bias) {
    expectFloat32(op, "bias", *bias);
    expectShape(op, "bias", *bias, {g.O});
  }
  if (zIn) {
    expectFloat32(op, "z", *zIn);
    expectShape(op, "z", *zIn, {g.N, g.O, g.Ho, g.Wo});
  }
  Tensor x = contiguous(xIn);                    // (N, C, H, W)
  Tensor w = contiguous(weightIn);               // (O, Cg, kH, kW)
  Tensor z = zIn ? contiguous(*zIn) : Tensor();  // (N, O, Ho, Wo)
  Tensor y = empty({g.N, g.O, g.Ho, g.Wo});      // (N, O, Ho, Wo)
  const float* b = bias ? bias->f32() : nullptr;  // (O)
  const float* zData = zIn ? z.f32() : nullptr;   // (N, O, Ho, Wo)
  const bool winograd = winogradUse(g, p).forward;
  // The weights' prepared form is kept with them (derivedFrom: made again when they are written in
  // place or the instruction set changes), so inference prepares them once, and a training step
  // once per step instead of once per image.
  const bool prepared = winograd || gemmBackend() == GemmBackend::Builtin;
  const std::string key = prepared ? preparedKey(winograd ? "winograd" : "gemm-a", weightIn, g) : std::string();
  if (winograd) {
    std::shared_ptr<const std::vector<float>> U;
    if (prepared)
      U = derivedFrom<std::vector<float>>(weightIn, key, [&] {
        return std::make_shared<std::vector<float>>(winograd::forwardWeights(w.f32(), g.O, g.C));
      });
    winograd::forward(x.f32(), w.f32(), b, y.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW, zData, relu,
                      U ? U->data() : nullptr);
    return inFormat(y, xIn.format);
  }
  std::shared_ptr<const std::vector<PackedGemmA>> packed;  // one per group
  if (prepared)
    packed = derivedFrom<std::vector<PackedGemmA>>(weightIn, key, [&] {
      auto groups = std::make_shared<std::vector<PackedGemmA>>();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        groups->push_back(packGemmA(cpuIsa(), false, g.Og, g.K, w.f32() + grp * g.Og * g.K, g.K));
      return groups;
    });
  forEachImageChunk(g.N, [&](int64_t n0, int64_t n1) {
    Tensor col = g.pointwise ? Tensor() : empty({g.K, g.HWo});  // (K, Ho * Wo)
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const float* xg = x.f32() + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
        const float* wg = w.f32() + grp * g.Og * g.K;               // (Og, K)
        const int64_t yOffset = (n * g.O + grp * g.Og) * g.HWo;    // of this (image, group) in y and z
        float* yg = y.f32() + yOffset;                              // (Og, Ho * Wo)
        const float* cols = xg;                                     // (K, Ho * Wo)
        if (!g.pointwise) {
          im2col(xg, col.f32(), g, p);
          cols = col.f32();
        }
        Epilogue epilogue;
        epilogue.bias = b ? b + grp * g.Og : nullptr;
        epilogue.z = zData ? zData + yOffset : nullptr;
        epilogue.ldz = g.HWo;
        epilogue.relu = relu;
        const bool any = epilogue.bias || epilogue.z || relu;
        if (packed)
          sgemmPackedA((*packed)[static_cast<size_t>(grp)], false, g.HWo, cols, g.HWo, 0.0f, yg, g.HWo,
                       any ? &epilogue : nullptr);
        else
          sgemm(false, false, g.Og, g.HWo, g.K, 1.0f, wg, g.K, cols, g.HWo, 0.0f, yg, g.HWo, any ? &epilogue : nullptr);
      }
    }
  });
  return inFormat(y, xIn.format);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  return forwardWithEpilogue(kOp, x, weight, bias, nullptr, false, p);
}

Tensor convBiasAct(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* z, bool relu,
                          const Conv2dParams& p) {
  return forwardWithEpilogue(kFusedOp, x, weight, bias, z, relu, p);
}

Conv2dGrads conv2dBackward(const Tensor& dyIn, const Tensor& xIn, const Tensor& weightIn, const Conv2dParams& p,
                           bool needDx, bool needDweight, bool needDbias) {
  expectFloat32(kOp, "dy", dyIn);
  expectFloat32(kOp, "x", xIn);
  expectFloat32(kOp, "weight", weightIn);
  Geometry g = geometry(xIn.shape, weightIn.shape, p);
  expectShape(kOp, "dy", dyIn, {g.N, g.O, g.Ho, g.Wo});
  Conv2dGrads grads;
  Tensor dy = contiguous(dyIn);  // (N, O, Ho, Wo)

  if (needDbias) {
    grads.dbias = empty({g.O});  // (O)
    float* db = grads.dbias.f32();
    int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, g.N * g.HWo));
    parallelFor(0, g.O, grain, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double sum = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const float* dyo = dy.f32() + (n * g.O + o) * g.HWo;  // (Ho * Wo)
          for (int64_t i = 0; i < g.HWo; ++i) sum += dyo[i];
        }
        db[o] = static_cast<float>(sum);
      }
    });
  }
  if (!needDx && !needDweight) return grads;

  Tensor x = needDweight ? contiguous(xIn) : Tensor();                  // (N, C, H, W)
  Tensor w = needDx ? contiguous(weightIn) : Tensor();                  // (O, Cg, kH, kW)
  Tensor dx = needDx ? empty({g.N, g.C, g.H, g.W}) : Tensor();          // (N, C, H, W)
  Tensor dw = needDweight ? zeros({g.O, g.Cg, g.kH, g.kW}) : Tensor();  // (O, Cg, kH, kW), stays 0 when N = 0
  const WinogradUse wino = winogradUse(g, p);
  if (needDx && wino.data) {
    winograd::backwardData(dy.f32(), w.f32(), dx.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW);
    grads.dx = inFormat(dx, xIn.format);
    needDx = false;
  }
  if (needDweight && wino.filter) {
    winograd::backwardFilter(dy.f32(), x.f32(), dw.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW);
    grads.dweight = dw;
    needDweight = false;
  }
  if (!needDx && !needDweight) return grads;
  // op(W_g) = W_g^T (K, Og) of the input gradient's GEMM, packed once and kept like the forward's.
  std::shared_ptr<const std::vector<PackedGemmA>> packedT;  // one per group
  if (needDx && gemmBackend() == GemmBackend::Builtin)
    packedT = derivedFrom<std::vector<PackedGemmA>>(weightIn, preparedKey("gemm-a-transposed", weightIn, g), [&] {
      auto groups = std::make_shared<std::vector<PackedGemmA>>();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        groups->push_back(packGemmA(cpuIsa(), true, g.K, g.Og, w.f32() + grp * g.Og * g.K, g.K));
      return groups;
    });
  // partial[n0]: (O, Cg, kH, kW), dweight summed over the chunk of images starting at n0 > 0; the chunk
  // starting at image 0 accumulates straight into dw.
  std::vector<Tensor> partial(static_cast<size_t>(g.N));
  forEachImageChunk(g.N, [&](int64_t n0, int64_t n1) {
    bool im2colNeeded = needDweight && !g.pointwise, col2imNeeded = needDx && !g.pointwise;
    Tensor col = im2colNeeded ? empty({g.K, g.HWo}) : Tensor();   // (K, Ho * Wo), im2col of x
    Tensor dcol = col2imNeeded ? empty({g.K, g.HWo}) : Tensor();  // (K, Ho * Wo), gradient of col
    float* acc = nullptr;                                         // (O, K), this chunk's dweight
    if (needDweight) {
      if (n0 > 0) partial[static_cast<size_t>(n0)] = empty(dw.shape);
      acc = n0 > 0 ? partial[static_cast<size_t>(n0)].f32() : dw.f32();
    }
    for (int64_t n = n0; n < n1; ++n) {
      if (col2imNeeded) std::memset(dx.f32() + n * g.C * g.HW, 0, static_cast<size_t>(g.C * g.HW) * sizeof(float));
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const float* dyg = dy.f32() + (n * g.O + grp * g.Og) * g.HWo;  // (Og, Ho * Wo)
        if (needDweight) {
          const float* xg = x.f32() + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
          const float* cols = xg;                                     // (K, Ho * Wo)
          if (im2colNeeded) {
            im2col(xg, col.f32(), g, p);
            cols = col.f32();
          }
          sgemm(false, true, g.Og, g.K, g.HWo, 1.0f, dyg, g.HWo, cols, g.HWo, n == n0 ? 0.0f : 1.0f,
                acc + grp * g.Og * g.K, g.K);
        }
        if (needDx) {
          const float* wg = w.f32() + grp * g.Og * g.K;           // (Og, K)
          float* dxg = dx.f32() + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
          float* dcols = col2imNeeded ? dcol.f32() : dxg;         // (K, Ho * Wo)
          if (packedT)
            sgemmPackedA((*packedT)[static_cast<size_t>(grp)], false, g.HWo, dyg, g.HWo, 0.0f, dcols, g.HWo);
          else
            sgemm(true, false, g.K, g.HWo, g.Og, 1.0f, wg, g.K, dyg, g.HWo, 0.0f, dcols, g.HWo);
          if (col2imNeeded) col2im(dcols, dxg, g, p);
        }
      }
    }
  });

  if (needDweight) {
    std::vector<const float*> parts;  // each (O, K)
    for (const Tensor& t : partial)
      if (t.storage) parts.push_back(t.f32());
    if (!parts.empty()) {
      float* d = dw.f32();
      parallelFor(0, dw.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
        for (const float* part : parts)
          for (int64_t i = i0; i < i1; ++i) d[i] += part[i];
      });
    }
    grads.dweight = dw;
  }
  if (needDx) grads.dx = inFormat(dx, xIn.format);
  return grads;
}

}  // namespace cr
