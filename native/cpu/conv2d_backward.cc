// The backward pass of the CPU 2-D convolution (conv2d.h; the forward pass and the method are
// described in conv2d.cc): dbias, then the input and weight gradients by Winograd where
// winogradUse says so, otherwise by im2col + GEMM in tasks (imageTasksBackward, batchedBackward) or
// one chunk of images per thread (bf16 compute, OpenBLAS, CUDNN_RESNET_CONV_BACKWARD=images).
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
