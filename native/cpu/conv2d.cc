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
// This file holds the forward pass; the backward pass is conv2d_backward.cc, and what both use
// (geometry, im2col / col2im, winogradUse, prepared-weight keys) conv2d_parts.h.
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
#include "conv2d_parts.h"
#include "epilogue.h"
#include "gemm.h"
#include "gemm_bf16.h"
#include "strided_copy.h"
#include "winograd.h"


namespace cr {
using namespace conv2d_parts;
namespace {

ForwardDriver forwardDriver() {
  static const ForwardDriver driver = [] {
    const char* v = std::getenv("CUDNN_RESNET_CONV_THREADS");
    return v && std::strcmp(v, "images") == 0 ? ForwardDriver::ImageChunks : ForwardDriver::Tasks;
  }();
  return driver;
}

// Images whose outputs have fewer positions than this (14x14, 7x7) are computed in one GEMM over
// the batch's columns: per image they would fill a few micro-kernel tiles, partly idle, and stream
// all the weights once per image.
constexpr int64_t kBatchedBelowPositions = 256;
// At most this many columns in one such GEMM (enough to fill the tiles and reuse the weights), and a
// column matrix of at most kBatchedColumnFloats floats (a large batch goes in several GEMMs).
constexpr int64_t kBatchedMaxColumns = 1024;

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

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  return forwardWithEpilogue(kOp, x, weight, bias, nullptr, false, p);
}

Tensor convBiasAct(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* z, bool relu,
                          const Conv2dParams& p) {
  return forwardWithEpilogue(kFusedOp, x, weight, bias, z, relu, p);
}

}  // namespace cr
