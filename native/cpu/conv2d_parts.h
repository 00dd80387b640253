// The parts of the CPU convolution that its forward pass (conv2d.cc) and its backward pass
// (conv2d_backward.cc) share: the geometry of one convolution, im2col / col2im, the choice of
// Winograd, the key of prepared weights. Internal to native/cpu.
#pragma once
#include <cstdint>
#include <string>

#include "../core/parallel.h"
#include "../core/tensor.h"
#include "../ops/conv2d.h"

namespace cr {
namespace conv2d_parts {

inline constexpr const char* kOp = "conv2d";
inline constexpr const char* kFusedOp = "convBiasAct";

// Blocking of the tasks both passes run (packedForward, imageTasksBackward):
// the fewest output columns a task computes, and the multiple its blocks are of
// (the AVX-512 kernel's tile width, a multiple of the others').
inline constexpr int64_t kMinColumnsPerTask = 128, kColumnMultiple = 32;
// At most about this many floats of column matrix per task (a block that stays in L2).
inline constexpr int64_t kColumnBlockFloats = int64_t{1} << 18;
// Tasks per thread, for balance when a core is slower or busy.
inline constexpr int64_t kTasksPerThread = 3;
inline int64_t roundUpTo(int64_t v, int64_t multiple) { return (v + multiple - 1) / multiple * multiple; }

// At most about this many floats of column matrix in one GEMM over a batch's columns (the forward's
// batchedForward, the backward's batchedBackward).
inline constexpr int64_t kBatchedColumnFloats = int64_t{1} << 22;

// Sizes of one convolution, derived from checked shapes.
struct Geometry {
  int64_t N, C, H, W, O, kH, kW, Ho, Wo, groups;
  int64_t Cg, Og;   // channels per group of x and of y
  int64_t K;        // Cg * kH * kW: rows of the column matrix
  int64_t HW, HWo;  // H * W and Ho * Wo
  bool pointwise;   // 1x1 kernel, stride 1, no padding: the image is its own column matrix
};

Geometry geometry(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op = kOp);

// The output positions [lo, hi) among outSize whose input index o * stride + offset lies in [0, size).
void validRange(int64_t offset, int64_t stride, int64_t size, int64_t outSize, int64_t& lo, int64_t& hi);

// Channels per task of im2col / col2im: about 32K column-matrix floats. Outside a parallel region
// (a batch smaller than the thread count: one image at a time) the channels are shared among the
// threads; inside one (an image chunk per thread) parallelFor runs serially.
int64_t channelGrain(const Geometry& g);

// Rows (c, i, j) of the column matrix for channels [c0, c1) and output positions [q0, q1) (q = oh * Wo + ow),
// from x (Cg, H, W): col (K, q1 - q0) with row stride ldcol, whose row (c, i, j) holds
// x[c, oh*sH + i*dH - pH, ow*sW + j*dW - pW], zero where that falls in the padding.
void im2colBlock(const float* x, float* col, int64_t ldcol, const Geometry& g, const Conv2dParams& p, int64_t c0,
                 int64_t c1, int64_t q0, int64_t q1);

// col (K, Ho * Wo) from x (Cg, H, W), the channels shared among the threads.
void im2col(const float* x, float* col, const Geometry& g, const Conv2dParams& p);

// The adjoint of im2colBlock: dx (Cg, H, W) += every entry of columns [q0, q1) of dcol (K, q1 - q0), row
// stride ldcol, at the position it was read from, for channels [c0, c1). Each element of dx receives
// its entries in the order (i, j, oh) of the rows and positions that read it.
void col2imBlock(const float* dcol, int64_t ldcol, float* dx, const Geometry& g, const Conv2dParams& p, int64_t c0,
                 int64_t c1, int64_t q0, int64_t q1);

// The adjoint of im2col: dx (Cg, H, W) += every entry of dcol (K, Ho * Wo) at the position it was read
// from, the channels shared among the threads.
void col2im(const float* dcol, float* dx, const Geometry& g, const Conv2dParams& p);

// Which passes of a convolution run as Winograd F(2x2, 3x3): 3x3 kernel, stride 1, dilation 1,
// one group, padding 0..2, on a CPU with AVX2 + FMA, where the shape favours it (winograd::Mode).
struct WinogradUse {
  bool forward = false, data = false, filter = false;
};

WinogradUse winogradUse(const Geometry& g, const Conv2dParams& p);

// What a convolution's prepared weights depend on besides their contents: the path, the
// instruction set, the weight's shape and format, and the groups.
std::string preparedKey(const char* form, const Tensor& weight, const Geometry& g);

// Throws unless bf16Compute can run here (AVX-512 BF16, the avx512 instruction set, not forced off).
void checkBf16(const char* op);

// v rounded to the nearest bfloat16 (ties to even), as a float.
float roundedToBf16(float v);

// t in the given memory format (t itself when it is already).
Tensor inFormat(const Tensor& t, MemoryFormat format);

// Calls fn(n0, n1) on chunks of the batch. With at least as many images as threads there is one chunk
// per thread and sgemm runs serially inside each; otherwise a single chunk, so sgemm uses the threads.
template <typename F>
void forEachImageChunk(int64_t N, const F& fn) {
  int64_t threads = numThreads();
  parallelFor(0, N, N >= threads ? (N + threads - 1) / threads : N, fn);
}

// How a pass shares the threads: Tasks (the forward's packedForward, the backward's
// imageTasksBackward / batchedBackward; the default) or ImageChunks (one chunk of images per
// thread, each GEMM sharing the threads when there are fewer images than threads; also the path of
// unpacked weights, bf16 compute and OpenBLAS), which CUDNN_RESNET_CONV_THREADS=images (forward) and
// CUDNN_RESNET_CONV_BACKWARD=images (backward) select for comparison.
enum class ForwardDriver { Tasks, ImageChunks };

}  // namespace conv2d_parts
}  // namespace cr
