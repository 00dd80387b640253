// CPU 2-D convolution: im2col + sgemm per (image, group), parallelised over the batch. The weights'
// GEMM panels (W_g for the forward pass, W_g^T for the input gradient) and Winograd transform are
// made once and kept with the weight tensor until it is written in place (derivedFrom, tensor.h).
//   forward:  y_g (Og, Ho*Wo)  = W_g (Og, K) * col (K, Ho*Wo)          [+ bias, in the GEMM's epilogue]
//   dweight:  dW_g (Og, K)    += dy_g (Og, Ho*Wo) * col^T (Ho*Wo, K)   summed over images
//   dx:       dcol (K, Ho*Wo)  = W_g^T (K, Og) * dy_g (Og, Ho*Wo), then col2im into dx
// with K = (C / groups) * kH * kW. With float32 and the built-in GEMM the backward pass runs as tasks
// that do not wait for each other: whole images with L2-sized blocks of output positions and fixed
// dweight partials (imageTasksBackward), or for 7x7 outputs blocks of channels over the batch's
// columns (batchedBackward). A 1x1 kernel with stride 1 and no padding uses the image itself
// as the column matrix. Stride-1 3x3 convolutions go to Winograd F(2x2, 3x3) (winograd.h) where that
// is faster; CUDNN_RESNET_CONV=im2col keeps every convolution on im2col.
// With Conv2dParams::bf16Compute (autocast bfloat16 on a CPU with AVX-512 BF16) every GEMM is the
// bfloat16 one (gemm_bf16.h), which rounds its operands (x, the weights, dy) as it converts them;
// y, dx, dweight and dbias are rounded to bfloat16 once they are complete. Where Winograd applies,
// the forward pass (without z), the input gradient and the filter gradient use its bfloat16 product
// stage (winograd.h).
// convBiasAct is the same forward pass with a longer epilogue (epilogue.h): + bias, + z, ReLU on each
// tile of y as the GEMM (or Winograd's output transform) writes it.
#include "conv2d.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/error.h"
#include "../core/parallel.h"
#include "../core/float_bits.h"
#include "epilogue.h"
#include "gemm.h"
#include "gemm_bf16.h"
#include "strided_copy.h"
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

void checkBf16(const char* op) {
  CR_CHECK_TYPE(bf16ComputeNative(), op, ": bf16Compute needs AVX-512 BF16 and the avx512 instruction set (",
                "CUDNN_RESNET_BF16=emulated or another instruction set is in force, or the CPU lacks it)");
}

float roundedToBf16(float v) { return bfloat16ToFloat(floatToBFloat16(v)); }

Tensor inFormat(const Tensor& t, MemoryFormat format) {
  return t.format == format ? t : toFormat(t, format);
}

// How the forward pass with packed weights shares the threads: Tasks (packedForward, the default) or
// ImageChunks (one chunk of images per thread, each GEMM sharing the threads when there are fewer
// images than threads; also the path of unpacked weights), which CUDNN_RESNET_CONV_THREADS=images
// selects for comparison.
enum class ForwardDriver { Tasks, ImageChunks };

ForwardDriver forwardDriver() {
  static const ForwardDriver driver = [] {
    const char* v = std::getenv("CUDNN_RESNET_CONV_THREADS");
    return v && std::strcmp(v, "images") == 0 ? ForwardDriver::ImageChunks : ForwardDriver::Tasks;
  }();
  return driver;
}

// The fewest output columns a task of packedForward computes, and the multiple its blocks are of
// (the AVX-512 kernel's tile width, a multiple of the others').
constexpr int64_t kMinColumnsPerTask = 128, kColumnMultiple = 32;
// At most about this many floats of column matrix per task (a block that stays in L2).
constexpr int64_t kColumnBlockFloats = int64_t{1} << 18;
// Tasks per thread, for balance when a core is slower or busy.
constexpr int64_t kTasksPerThread = 3;
inline int64_t roundUpTo(int64_t v, int64_t multiple) { return (v + multiple - 1) / multiple * multiple; }

// Images whose outputs have fewer positions than this (14x14, 7x7) are computed in one GEMM over
// the batch's columns: per image they would fill a few micro-kernel tiles, partly idle, and stream
// all the weights once per image.
constexpr int64_t kBatchedBelowPositions = 256;
// At most this many columns in one such GEMM (enough to fill the tiles and reuse the weights), and a
// column matrix of at most about this many floats (a large batch goes in several GEMMs).
constexpr int64_t kBatchedMaxColumns = 1024, kBatchedColumnFloats = int64_t{1} << 22;

// The batch's column matrices side by side, one GEMM over all of them into a scratch output, then
// each image's rows copied into y with the epilogue (the same operations in the same order as the
// GEMM's own epilogue, so the same bits as image by image). One group.
void batchedForward(const Geometry& g, const Conv2dParams& p, const float* x, const PackedGemmA& packed,
                    const float* bias, const float* z, bool relu, float* y) {
  // x: (N, C, H, W), bias: (O) or null, z: (N, O, Ho, Wo) or null, y: (N, O, Ho, Wo)
  // Images per GEMM: enough columns to fill the tiles and reuse the weights, a column matrix of at
  // most about kBatchedColumnFloats.
  const int64_t imagesPerGemm =
      std::clamp<int64_t>(std::min(kBatchedMaxColumns, kBatchedColumnFloats / g.K) / g.HWo, 1, g.N);
  const int64_t threads = numThreads();
  Tensor col = empty({g.K, imagesPerGemm * g.HWo});  // (K, images * Ho * Wo): image i in columns [i * HWo, (i + 1) * HWo)
  Tensor out = empty({g.O, imagesPerGemm * g.HWo});  // (O, images * Ho * Wo)
  for (int64_t n0 = 0; n0 < g.N; n0 += imagesPerGemm) {
    const int64_t images = std::min(imagesPerGemm, g.N - n0), columns = images * g.HWo;
    float* cols = col.f32();
    parallelFor(0, images * g.Cg, std::max<int64_t>(1, channelGrain(g) / images), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t image = t / g.Cg, c = t % g.Cg;
        const float* xn = x + (n0 + image) * g.C * g.HW;  // (C, H, W)
        if (g.pointwise)
          std::memcpy(cols + c * columns + image * g.HW, xn + c * g.HW, static_cast<size_t>(g.HW) * sizeof(float));
        else
          im2colBlock(xn, cols + image * g.HWo, columns, g, p, c, c + 1, 0, g.HWo);
      }
    });
    // Blocks of columns, each a single-thread GEMM (the packed weights shared, each block's columns
    // packed by its own task: nothing is packed twice and no task waits for another), then that
    // block's columns copied into y.
    const int64_t perTask = std::min(
        columns, std::max(kMinColumnsPerTask, roundUpTo(columns / (kTasksPerThread * threads), kColumnMultiple)));
    float* product = out.f32();
    parallelFor(0, (columns + perTask - 1) / perTask, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t q0 = t * perTask, q1 = std::min(columns, q0 + perTask);
        sgemmPackedA(packed, false, q1 - q0, cols + q0, columns, 0.0f, product + q0, columns);
        for (int64_t image = q0 / g.HWo; image * g.HWo < q1; ++image) {
          const int64_t j0 = std::max(q0, image * g.HWo), j1 = std::min(q1, (image + 1) * g.HWo);  // of this image
          for (int64_t o = 0; o < g.O; ++o) {
            const int64_t at = ((n0 + image) * g.O + o) * g.HWo + j0 - image * g.HWo;  // in y and z
            std::memcpy(y + at, product + o * columns + j0, static_cast<size_t>(j1 - j0) * sizeof(float));
            epilogueRow(y + at, z ? z + at : nullptr, bias ? bias + o : nullptr, relu, j1 - j0);
          }
        }
      }
    });
  }
}

// The side of the square blocks in which transposedForward transposes its product into y.
constexpr int64_t kTransposeTile = 16;

// The most output positions transposedForward takes: 7x7 gains (3x3 512 -> 512 at 7x7, one thread:
// 2.49 -> 1.99 ms), 14x14 loses (1x1 256 -> 1024: 0.59 -> 0.66 ms; the transposition into y and the
// packing of col^T outweigh the 12% of idle tile lanes saved).
constexpr int64_t kTransposedMaxPositions = 64;

// Whether a forward pass goes to transposedForward: one image, one group, a small output.
bool transposedApplies(const Geometry& g) { return g.groups == 1 && g.N == 1 && g.HWo <= kTransposedMaxPositions; }

// A small output of one image as the transposed product T (Ho * Wo, O) = col^T (Ho * Wo, K) W^T (K, O),
// the output positions as the rows of the micro-kernel's tiles (49 positions: 56 rows computed, against
// 64 columns of 32-wide tiles), the output channels shared among the threads in
// column blocks (the weights packed once, col^T once per call: no task waits for another), each block
// written into y transposed, with the epilogue. Each element is summed in the same order as by
// W * col, so the bits are those of the other paths.
void transposedForward(const Geometry& g, const Conv2dParams& p, const float* x, const PackedGemmB& weightsT,
                       const float* bias, const float* z, bool relu, float* y) {
  // x: (1, C, H, W), weightsT: W^T (K, O) packed, bias: (O) or null, z: (1, O, Ho, Wo) or null, y: (1, O, Ho, Wo)
  Tensor col = g.pointwise ? Tensor() : empty({g.K, g.HWo});  // (K, Ho * Wo)
  const float* cols = x;                                       // (K, Ho * Wo)
  if (!g.pointwise) {
    im2col(x, col.f32(), g, p);
    cols = col.f32();
  }
  const PackedGemmA colT = packGemmA(cpuIsa(), true, g.HWo, g.K, cols, g.HWo);  // col^T (Ho * Wo, K)
  Tensor t = empty({g.HWo, g.O});                                                // (Ho * Wo, O)
  float* product = t.f32();
  const int64_t step = packedGemmColumnStep(weightsT), panels = (g.O + step - 1) / step;
  parallelFor(0, panels, (panels + kTasksPerThread * numThreads() - 1) / (kTasksPerThread * numThreads()),
              [&](int64_t p0, int64_t p1) {
                const int64_t o0 = p0 * step, o1 = std::min(g.O, p1 * step);
                sgemmPackedABColumns(colT, weightsT, o0, o1, 0.0f, product, g.O);
                for (int64_t q0 = 0; q0 < g.HWo; q0 += kTransposeTile)  // in tiles that stay in L1
                  for (int64_t ot = o0; ot < o1; ot += kTransposeTile)
                    for (int64_t o = ot; o < std::min(o1, ot + kTransposeTile); ++o)
                      for (int64_t q = q0; q < std::min(g.HWo, q0 + kTransposeTile); ++q)
                        y[o * g.HWo + q] = product[q * g.O + o];
                for (int64_t o = o0; o < o1; ++o)
                  epilogueRow(y + o * g.HWo, z ? z + o * g.HWo : nullptr, bias ? bias + o : nullptr, relu, g.HWo);
              });
}

// y = act(W * col + bias + z) with the weights packed (one PackedGemmA per group), in one parallel
// region when the output has columns enough for every thread: tasks of (image, group, block of
// output columns), each making its own block of the column matrix, which stays in cache, and
// computing that block of y with a single-thread GEMM. Small outputs in a batch go to
// batchedForward (up to 64 positions at batch 1 go to transposedForward, before W is packed for
// this); other small outputs at batch 1, or with groups, go image by image: the column matrix made
// once, the GEMM sharing its packed columns and its rows among the threads.
// Each element of y is summed in the same order whatever the split.
void packedForward(const Geometry& g, const Conv2dParams& p, const float* x, const std::vector<PackedGemmA>& packed,
                   const float* bias, const float* z, bool relu, float* y) {
  // x: (N, C, H, W), bias: (O) or null, z: (N, O, Ho, Wo) or null, y: (N, O, Ho, Wo)
  const int64_t threads = numThreads();
  auto epilogueAt = [&](int64_t grp, int64_t offset, Epilogue& e) -> const Epilogue* {
    e.bias = bias ? bias + grp * g.Og : nullptr;
    e.z = z ? z + offset : nullptr;
    e.ldz = g.HWo;
    e.relu = relu;
    return e.bias || e.z || relu ? &e : nullptr;
  };
  if (g.groups == 1 && g.N > 1 && g.HWo < kBatchedBelowPositions) {
    batchedForward(g, p, x, packed[0], bias, z, relu, y);
    return;
  }
  const int64_t products = g.N * g.groups;
  if (threads == 1 || products * g.HWo >= threads * kMinColumnsPerTask) {
    const int64_t blocksWanted = threads == 1 ? 1 : (kTasksPerThread * threads + products - 1) / products;
    int64_t perTask = std::max(kMinColumnsPerTask, roundUpTo((g.HWo + blocksWanted - 1) / blocksWanted, kColumnMultiple));
    if (!g.pointwise)
      perTask = std::min(perTask, std::max(kMinColumnsPerTask, roundUpTo(kColumnBlockFloats / g.K, kColumnMultiple)));
    perTask = std::min(perTask, g.HWo);
    const int64_t blocksPerImage = (g.HWo + perTask - 1) / perTask;
    parallelFor(0, products * blocksPerImage, 1, [&](int64_t t0, int64_t t1) {
      Tensor col = g.pointwise ? Tensor() : empty({g.K, perTask});  // (K, perTask)
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t image = t / blocksPerImage / g.groups, grp = t / blocksPerImage % g.groups;
        const int64_t q0 = t % blocksPerImage * perTask, q1 = std::min(g.HWo, q0 + perTask);
        const float* xg = x + (image * g.C + grp * g.Cg) * g.HW;              // (Cg, H, W)
        const int64_t yOffset = (image * g.O + grp * g.Og) * g.HWo + q0;     // of the block in y and z
        const float* cols = xg + q0;                                           // (K, q1 - q0), row stride ldb
        int64_t ldb = g.HW;
        if (!g.pointwise) {
          im2colBlock(xg, col.f32(), q1 - q0, g, p, 0, g.Cg, q0, q1);
          cols = col.f32();
          ldb = q1 - q0;
        }
        Epilogue e;
        // Inside the parallel region (or with one thread) the GEMM runs on this thread alone.
        sgemmPackedA(packed[static_cast<size_t>(grp)], false, q1 - q0, cols, ldb, 0.0f, y + yOffset, g.HWo,
                     epilogueAt(grp, yOffset, e));
      }
    });
    return;
  }
  Tensor col = g.pointwise ? Tensor() : empty({g.K, g.HWo});  // (K, Ho * Wo)
  for (int64_t image = 0; image < g.N; ++image)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* cols = x + (image * g.C + grp * g.Cg) * g.HW;  // (K, Ho * Wo)
      if (!g.pointwise) {
        im2col(cols, col.f32(), g, p);
        cols = col.f32();
      }
      const int64_t yOffset = (image * g.O + grp * g.Og) * g.HWo;
      Epilogue e;
      sgemmPackedA(packed[static_cast<size_t>(grp)], false, g.HWo, cols, g.HWo, 0.0f, y + yOffset, g.HWo,
                   epilogueAt(grp, yOffset, e));
    }
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
  const bool bf16 = p.bf16Compute;
  if (bf16) checkBf16(op);
  const bool winograd = winogradUse(g, p).forward && !(bf16 && zIn);
  if (winograd && bf16) {
    std::shared_ptr<const std::vector<float>> U = derivedFrom<std::vector<float>>(
        weightIn, preparedKey("winograd-bf16", weightIn, g),
        [&] { return std::make_shared<std::vector<float>>(winograd::forwardWeightsBf16(w.f32(), g.O, g.C)); });
    std::vector<float> roundedBias(b ? b : nullptr, b ? b + g.O : nullptr);  // (O)
    roundToBf16(roundedBias.data(), roundedBias.data(), static_cast<int64_t>(roundedBias.size()));
    winograd::forwardBf16(x.f32(), b ? roundedBias.data() : nullptr, y.f32(), g.N, g.C, g.H, g.W, g.O, p.padH,
                          p.padW, relu, U->data());
    return inFormat(y, xIn.format);
  }
  // The weights' prepared form is kept with them (derivedFrom: made again when they are written in
  // place or the instruction set changes), so inference prepares them once, and a training step
  // once per step instead of once per image.
  const bool prepared = winograd || gemmBackend() == GemmBackend::Builtin;
  const std::string key =
      prepared ? preparedKey(winograd ? "winograd" : bf16 ? "gemm-a-bf16" : "gemm-a", weightIn, g) : std::string();
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
  std::shared_ptr<const std::vector<PackedBf16A>> packedBf16;  // one per group
  if (bf16)
    packedBf16 = derivedFrom<std::vector<PackedBf16A>>(weightIn, key, [&] {
      auto groups = std::make_shared<std::vector<PackedBf16A>>();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        groups->push_back(packBf16A(false, g.Og, g.K, w.f32() + grp * g.Og * g.K, g.K));
      return groups;
    });
  if (!bf16 && gemmBackend() == GemmBackend::Builtin && forwardDriver() == ForwardDriver::Tasks &&
      transposedApplies(g)) {
    // W^T (K, O), packed as the transposed product's right-hand side (instead of W's panels)
    const auto weightsT = derivedFrom<PackedGemmB>(weightIn, preparedKey("gemm-b-transposed", weightIn, g), [&] {
      return std::make_shared<PackedGemmB>(packGemmB(cpuIsa(), true, g.K, g.O, w.f32(), g.K));
    });
    transposedForward(g, p, x.f32(), *weightsT, b, zData, relu, y.f32());
    return inFormat(y, xIn.format);
  }
  std::shared_ptr<const std::vector<PackedGemmA>> packed;  // one per group
  if (prepared && !bf16)
    packed = derivedFrom<std::vector<PackedGemmA>>(weightIn, key, [&] {
      auto groups = std::make_shared<std::vector<PackedGemmA>>();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        groups->push_back(packGemmA(cpuIsa(), false, g.Og, g.K, w.f32() + grp * g.Og * g.K, g.K));
      return groups;
    });
  if (packed && forwardDriver() == ForwardDriver::Tasks) {
    packedForward(g, p, x.f32(), *packed, b, zData, relu, y.f32());
    return inFormat(y, xIn.format);
  }
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
        if (bf16)
          gemmBf16(false, false, g.Og, g.HWo, g.K, wg, g.K, cols, g.HWo, 0.0f, yg, g.HWo, &epilogue, true,
                   &(*packedBf16)[static_cast<size_t>(grp)]);
        else if (packed)
          sgemmPackedA((*packed)[static_cast<size_t>(grp)], false, g.HWo, cols, g.HWo, 0.0f, yg, g.HWo,
                       any ? &epilogue : nullptr);
        else
          sgemm(false, false, g.Og, g.HWo, g.K, 1.0f, wg, g.K, cols, g.HWo, 0.0f, yg, g.HWo, any ? &epilogue : nullptr);
      }
    }
  });
  return inFormat(y, xIn.format);
}

// How the float32 backward pass with the built-in GEMM shares the threads: Tasks (imageTasksBackward
// or batchedBackward, the default) or ImageChunks (one chunk of images per thread, the path of bf16
// compute and of OpenBLAS), which CUDNN_RESNET_CONV_BACKWARD=images selects for comparison; read at
// every call.
ForwardDriver backwardDriver() {
  const char* v = std::getenv("CUDNN_RESNET_CONV_BACKWARD");
  return v && std::strcmp(v, "images") == 0 ? ForwardDriver::ImageChunks : ForwardDriver::Tasks;
}

// Outputs with fewer positions than this (7x7) go to batchedBackward. At 14x14 (ResNet-50 b8, two
// threads) whole-image tasks measured as fast or faster: 1x1 256 -> 1024 5.1 ms against 6.2 ms.
constexpr int64_t kBackwardBatchedBelowPositions = 128;

// imageTasksBackward keeps at most this many dweight partials, and about this many floats of them.
constexpr int64_t kMaxDweightPartials = 8, kDweightPartialFloats = int64_t{1} << 22;

// Gradients of a convolution with larger outputs (at least kBackwardBatchedBelowPositions) in a batch
// of at least one image per thread, in one parallel region of tasks that do not wait for each other:
// the batch in fixed chunks of images (one per dweight partial), each chunk's images one at a time,
// each image's output positions in blocks whose column matrix stays in L2: per block, its im2col,
//   dW_g += dy_g[:, block] col^T      (into the chunk's partial)
//   dcol  = W_g^T dy_g[:, block]      (W^T packed once per weight tensor)
// and col2im of dcol into the image's dx. Then the partials are summed in chunk order. The chunks and
// blocks do not depend on the thread count (while O * K * threads <= kDweightPartialFloats), so
// neither do the bits of dx and dweight.
void imageTasksBackward(const Geometry& g, const Conv2dParams& p, const float* dy, const float* x,
                        const std::vector<PackedGemmA>* packedT, float* dx, float* dw) {
  // dy: (N, O, Ho, Wo), x: (N, C, H, W) or null without dw, packedT: W_g^T (K, Og) per group or null
  // without dx, dx: (N, C, H, W) or null, dw: (O, Cg, kH, kW) zeroed, or null
  const int64_t threads = numThreads(), weightFloats = g.O * g.K;
  const int64_t chunks =
      dw ? std::min(g.N, std::max(threads, std::min(kMaxDweightPartials, kDweightPartialFloats / weightFloats)))
         : g.N;
  const int64_t perBlock =
      g.pointwise ? g.HWo
                  : std::min(g.HWo, std::max(kMinColumnsPerTask, roundUpTo(kColumnBlockFloats / g.K, kColumnMultiple)));
  std::vector<Tensor> partial(static_cast<size_t>(chunks));  // [chunk > 0]: (O, Cg, kH, kW)
  parallelFor(0, chunks, 1, [&](int64_t t0, int64_t t1) {
    Tensor col = dw && !g.pointwise ? empty({g.K, perBlock}) : Tensor();   // (K, perBlock), im2col of x
    Tensor dcol = dx && !g.pointwise ? empty({g.K, perBlock}) : Tensor();  // (K, perBlock), gradient of col
    for (int64_t chunk = t0; chunk < t1; ++chunk) {
      const int64_t n0 = chunk * g.N / chunks, n1 = (chunk + 1) * g.N / chunks;
      float* acc = nullptr;  // (O, K), this chunk's dweight
      if (dw) {
        if (chunk > 0) partial[static_cast<size_t>(chunk)] = empty({g.O, g.Cg, g.kH, g.kW});
        acc = chunk > 0 ? partial[static_cast<size_t>(chunk)].f32() : dw;
      }
      for (int64_t n = n0; n < n1; ++n) {
        if (dx && !g.pointwise)
          std::memset(dx + n * g.C * g.HW, 0, static_cast<size_t>(g.C * g.HW) * sizeof(float));
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          const float* dyg = dy + (n * g.O + grp * g.Og) * g.HWo;  // (Og, Ho * Wo)
          for (int64_t q0 = 0; q0 < g.HWo; q0 += perBlock) {
            const int64_t q1 = std::min(g.HWo, q0 + perBlock), columns = q1 - q0;
            if (dw) {
              const float* xg = x + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
              const float* cols = xg + q0;                          // (K, columns), row stride ldb
              int64_t ldb = g.HW;
              if (!g.pointwise) {
                im2colBlock(xg, col.f32(), columns, g, p, 0, g.Cg, q0, q1);
                cols = col.f32();
                ldb = columns;
              }
              sgemm(false, true, g.Og, g.K, columns, 1.0f, dyg + q0, g.HWo, cols, ldb, n == n0 && q0 == 0 ? 0.0f : 1.0f,
                    acc + grp * g.Og * g.K, g.K);
            }
            if (dx) {
              float* dxg = dx + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
              if (g.pointwise) {
                sgemmPackedA((*packedT)[static_cast<size_t>(grp)], false, columns, dyg + q0, g.HWo, 0.0f, dxg + q0,
                             g.HW);
              } else {
                sgemmPackedA((*packedT)[static_cast<size_t>(grp)], false, columns, dyg + q0, g.HWo, 0.0f, dcol.f32(),
                             columns);
                col2imBlock(dcol.f32(), columns, dxg, g, p, 0, g.Cg, q0, q1);
              }
            }
          }
        }
      }
    }
  });
  if (dw && chunks > 1)
    parallelFor(0, weightFloats, 1 << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t chunk = 1; chunk < chunks; ++chunk) {
        const float* part = partial[static_cast<size_t>(chunk)].f32();  // (O, K)
        for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
      }
    });
}

// batchedBackward's tasks: blocks of ceil(Cg / kBackwardChannelBlocks) channels of x, and of at least
// kMinRowsPerBlock rows of the column matrix (a few micro-kernel tiles, so that streaming the packed dY
// is amortised), each with its rows of the column matrix (and W^T's rows, packed once per block and
// kept with the weights).
constexpr int64_t kBackwardChannelBlocks = 12, kMinRowsPerBlock = 96;
// At most about this many floats of dY_g per batchedBackward region (every task streams all of it,
// packed: 1x1 256 -> 1024 at 14x14, one thread, 19.1 ms with all 8 images at once, 9.7 ms with 2MB).
constexpr int64_t kBatchedDyFloats = int64_t{1} << 19;
int64_t backwardChannelsPerBlock(const Geometry& g) {
  const int64_t taps = g.kH * g.kW;
  return std::min(g.Cg, std::max((g.Cg + kBackwardChannelBlocks - 1) / kBackwardChannelBlocks,
                                 (kMinRowsPerBlock + taps - 1) / taps));
}

// Gradients of a convolution with small outputs (7x7), or of a batch smaller than the thread
// count, over the batch's columns laid side by side (several images at a time, up to about
// kBatchedColumnFloats floats of column matrix and kBatchedDyFloats of dY): per group, dY_g (Og, images * Ho * Wo) is gathered and
// packed once (as either operand), then one parallel region of tasks that do not wait for each other, one per block of
// channels (rows k of the column matrix), each
//   im2col of its rows for all the images, dW_g[:, k] += dY_g COL[k, :]^T   (depth: every image's positions)
//   dCOL[k, :] = W_g^T[k, :] dY_g, and col2im of its channels
// in a buffer of its own that stays in cache. Each element is summed in the same order whatever the
// thread count.
void batchedBackward(const Geometry& g, const Conv2dParams& p, const float* dy, const float* x,
                     const std::vector<PackedGemmA>* blocksT, float* dx, float* dw) {
  // dy: (N, O, Ho, Wo), x: (N, C, H, W) or null without dw, blocksT: W_g^T's rows of each channel
  // block (rows, Og), [group * blocks + block], or null without dx, dx: (N, C, H, W) or null,
  // dw: (O, Cg, kH, kW) zeroed, or null
  const int64_t perBlock = backwardChannelsPerBlock(g), blocks = (g.Cg + perBlock - 1) / perBlock;
  const int64_t taps = g.kH * g.kW;
  const int64_t imagesPerGemm = std::clamp<int64_t>(
      std::min(kBatchedColumnFloats / (g.K * g.HWo), kBatchedDyFloats / (g.Og * g.HWo)), 1, g.N);
  Tensor dyCols = empty({g.Og, imagesPerGemm * g.HWo});  // (Og, images * Ho * Wo): image i in columns [i * HWo, (i + 1) * HWo)
  for (int64_t n0 = 0; n0 < g.N; n0 += imagesPerGemm) {
    const int64_t images = std::min(imagesPerGemm, g.N - n0), columns = images * g.HWo;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      float* dYg = dyCols.f32();
      parallelFor(0, images * g.Og, std::max<int64_t>(1, (int64_t{1} << 14) / g.HWo), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t image = r / g.Og, o = r % g.Og;
          std::memcpy(dYg + o * columns + image * g.HWo, dy + ((n0 + image) * g.O + grp * g.Og + o) * g.HWo,
                      static_cast<size_t>(g.HWo) * sizeof(float));
        }
      });
      // dY_g packed once: as the left-hand side of dW's products, the right-hand side of dCOL's.
      const PackedGemmA packedDY = dw ? packGemmA(cpuIsa(), false, g.Og, columns, dYg, columns) : PackedGemmA{};
      const PackedGemmB packedDYB = dx ? packGemmB(cpuIsa(), false, g.Og, columns, dYg, columns) : PackedGemmB{};
      parallelFor(0, blocks, 1, [&](int64_t b0, int64_t b1) {
        Tensor buffer = empty({perBlock * taps, columns});  // (rows, columns): COL's rows, then dCOL's
        float* rowsOf = buffer.f32();
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t c0 = b * perBlock, c1 = std::min(g.Cg, c0 + perBlock), rows = (c1 - c0) * taps;
          if (dw) {
            for (int64_t image = 0; image < images; ++image) {
              const float* xc = x + ((n0 + image) * g.C + grp * g.Cg + c0) * g.HW;  // (c1 - c0, H, W)
              if (g.pointwise)
                for (int64_t c = 0; c < c1 - c0; ++c)
                  std::memcpy(rowsOf + c * columns + image * g.HW, xc + c * g.HW, static_cast<size_t>(g.HW) * sizeof(float));
              else
                im2colBlock(xc, rowsOf + image * g.HWo, columns, g, p, 0, c1 - c0, 0, g.HWo);
            }
            sgemmPackedA(packedDY, true, rows, rowsOf, columns, n0 == 0 ? 0.0f : 1.0f, dw + grp * g.Og * g.K + c0 * taps,
                         g.K);
          }
          if (dx) {
            sgemmPackedABColumns((*blocksT)[static_cast<size_t>(grp * blocks + b)], packedDYB, 0, columns, 0.0f, rowsOf,
                                 columns);
            for (int64_t image = 0; image < images; ++image) {
              float* dxc = dx + ((n0 + image) * g.C + grp * g.Cg + c0) * g.HW;  // (c1 - c0, H, W)
              if (g.pointwise) {
                for (int64_t c = 0; c < c1 - c0; ++c)
                  std::memcpy(dxc + c * g.HW, rowsOf + c * columns + image * g.HW, static_cast<size_t>(g.HW) * sizeof(float));
              } else {
                std::memset(dxc, 0, static_cast<size_t>((c1 - c0) * g.HW) * sizeof(float));
                col2imBlock(rowsOf + image * g.HWo, columns, dxc, g, p, 0, c1 - c0, 0, g.HWo);
              }
            }
          }
        }
      });
    }
  }
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
  const bool bf16 = p.bf16Compute;
  if (bf16) checkBf16(kOp);
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
          if (bf16)
            for (int64_t i = 0; i < g.HWo; ++i) sum += roundedToBf16(dyo[i]);
          else
            for (int64_t i = 0; i < g.HWo; ++i) sum += dyo[i];
        }
        db[o] = bf16 ? roundedToBf16(static_cast<float>(sum)) : static_cast<float>(sum);
      }
    });
  }
  if (!needDx && !needDweight) return grads;

  Tensor x = needDweight ? contiguous(xIn) : Tensor();                  // (N, C, H, W)
  Tensor w = needDx ? contiguous(weightIn) : Tensor();                  // (O, Cg, kH, kW)
  Tensor dx = needDx ? empty({g.N, g.C, g.H, g.W}) : Tensor();          // (N, C, H, W)
  Tensor dw = needDweight ? zeros({g.O, g.Cg, g.kH, g.kW}) : Tensor();  // (O, Cg, kH, kW), stays 0 when N = 0
  const WinogradUse wino = winogradUse(g, p);
  if (needDx && wino.data && bf16) {
    std::shared_ptr<const std::vector<float>> U = derivedFrom<std::vector<float>>(
        weightIn, preparedKey("winograd-data-bf16", weightIn, g),
        [&] { return std::make_shared<std::vector<float>>(winograd::backwardDataWeightsBf16(w.f32(), g.O, g.C)); });
    winograd::backwardDataBf16(dy.f32(), U->data(), dx.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW);
    grads.dx = inFormat(dx, xIn.format);
    needDx = false;
  }
  if (needDx && wino.data) {
    winograd::backwardData(dy.f32(), w.f32(), dx.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW);
    grads.dx = inFormat(dx, xIn.format);
    needDx = false;
  }
  if (needDweight && wino.filter) {
    winograd::backwardFilter(dy.f32(), x.f32(), dw.f32(), g.N, g.C, g.H, g.W, g.O, p.padH, p.padW, bf16);
    if (bf16) roundToBf16(dw.f32(), dw.f32(), dw.numel());
    grads.dweight = dw;
    needDweight = false;
  }
  if (!needDx && !needDweight) return grads;
  if (!bf16 && gemmBackend() == GemmBackend::Builtin && backwardDriver() == ForwardDriver::Tasks && g.N > 0 &&
      g.K > 0) {
    // Small outputs, or fewer images than threads: tasks of channel blocks over the batch's columns;
    // otherwise tasks of whole images. W_g^T packed once and kept, whole or in the channel blocks.
    const bool batched = g.HWo < kBackwardBatchedBelowPositions || g.N < numThreads();
    std::shared_ptr<const std::vector<PackedGemmA>> packedT;  // per group, or per (group, channel block)
    if (needDx) {
      const int64_t perBlock = batched ? backwardChannelsPerBlock(g) : g.Cg, taps = g.kH * g.kW;
      packedT = derivedFrom<std::vector<PackedGemmA>>(
          weightIn, preparedKey("gemm-a-transposed-blocks", weightIn, g) + " " + std::to_string(perBlock), [&] {
            auto parts = std::make_shared<std::vector<PackedGemmA>>();
            for (int64_t grp = 0; grp < g.groups; ++grp)
              for (int64_t c0 = 0; c0 < g.Cg; c0 += perBlock)
                parts->push_back(packGemmA(cpuIsa(), true, std::min(perBlock, g.Cg - c0) * taps, g.Og,
                                           w.f32() + grp * g.Og * g.K + c0 * taps, g.K));
            return parts;
          });
    }
    (batched ? batchedBackward : imageTasksBackward)(g, p, dy.f32(), needDweight ? x.f32() : nullptr, packedT.get(),
                                                     needDx ? dx.f32() : nullptr, needDweight ? dw.f32() : nullptr);
    if (needDweight) grads.dweight = dw;
    if (needDx) grads.dx = inFormat(dx, xIn.format);
    return grads;
  }
  // op(W_g) = W_g^T (K, Og) of the input gradient's GEMM, packed once and kept like the forward's.
  std::shared_ptr<const std::vector<PackedBf16A>> packedTBf16;  // one per group
  if (needDx && bf16)
    packedTBf16 = derivedFrom<std::vector<PackedBf16A>>(weightIn, preparedKey("gemm-a-transposed-bf16", weightIn, g), [&] {
      auto groups = std::make_shared<std::vector<PackedBf16A>>();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        groups->push_back(packBf16A(true, g.K, g.Og, w.f32() + grp * g.Og * g.K, g.K));
      return groups;
    });
  std::shared_ptr<const std::vector<PackedGemmA>> packedT;  // one per group
  if (needDx && !bf16 && gemmBackend() == GemmBackend::Builtin)
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
          if (bf16)
            gemmBf16(false, true, g.Og, g.K, g.HWo, dyg, g.HWo, cols, g.HWo, n == n0 ? 0.0f : 1.0f,
                     acc + grp * g.Og * g.K, g.K, nullptr, false);
          else
            sgemm(false, true, g.Og, g.K, g.HWo, 1.0f, dyg, g.HWo, cols, g.HWo, n == n0 ? 0.0f : 1.0f,
                  acc + grp * g.Og * g.K, g.K);
        }
        if (needDx) {
          const float* wg = w.f32() + grp * g.Og * g.K;           // (Og, K)
          float* dxg = dx.f32() + (n * g.C + grp * g.Cg) * g.HW;  // (Cg, H, W)
          float* dcols = col2imNeeded ? dcol.f32() : dxg;         // (K, Ho * Wo)
          if (bf16)
            gemmBf16(true, false, g.K, g.HWo, g.Og, wg, g.K, dyg, g.HWo, 0.0f, dcols, g.HWo, nullptr, !col2imNeeded,
                     &(*packedTBf16)[static_cast<size_t>(grp)]);
          else if (packedT)
            sgemmPackedA((*packedT)[static_cast<size_t>(grp)], false, g.HWo, dyg, g.HWo, 0.0f, dcols, g.HWo);
          else
            sgemm(true, false, g.K, g.HWo, g.Og, 1.0f, wg, g.K, dyg, g.HWo, 0.0f, dcols, g.HWo);
          if (col2imNeeded) col2im(dcols, dxg, g, p);
          if (col2imNeeded && bf16) roundToBf16(dxg, dxg, g.Cg * g.HW);
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
    if (bf16) roundToBf16(dw.f32(), dw.f32(), dw.numel());
    grads.dweight = dw;
  }
  if (needDx) grads.dx = inFormat(dx, xIn.format);
  return grads;
}

}  // namespace cr
