// Winograd F(2x2, 3x3) convolution on the CPU (AVX2/FMA, AVX-512 where the CPU has it), for 3x3 kernels with stride 1,
// dilation 1, groups 1 and padding 0..2 on each axis, in NCHW.
//   y = A^T [ (G g G^T) (.) (B^T d B) ] A   per 2x2 output tile, d the 4x4 input patch.
// Tiles are processed in chunks across the batch: the input transform of a chunk is written as
// 16 matrices V[xi] (C, tiles), the 16 products M[xi] (O, tiles) = U[xi] (O, C) * V[xi] are run
// by a 4x24 micro-kernel straight from those layouts (no packing), then the output transform
// writes y. Backward-data is the same convolution of dy with the flipped, transposed kernel and
// padding 2 - p. Backward-filter reuses the input transform and the adjoint of the output
// transform: dU[xi] (O, C) = sum over tiles of (A dY A^T)[xi] (O, tiles) * V[xi]^T, then
// dW = G^T dU G.
// F(2x2, 3x3) uses only 0, +-1 and 1/2 in its transforms: its float32 error stays close to that
// of a direct convolution.
// CUDNN_RESNET_CONV=im2col in the environment switches the Winograd path off (every call of
// conv2d then uses im2col + sgemm), for comparisons; CUDNN_RESNET_CONV=winograd uses it wherever it
// applies, whatever the shape. The variable is read at every call.
#pragma once
#include <cstdint>
#include <vector>

namespace cr {
namespace winograd {

// Off: the instruction set in force is portable (cpu_features.h), or CUDNN_RESNET_CONV=im2col. Force: CUDNN_RESNET_CONV=winograd, every
// eligible convolution runs as Winograd (tests use it on small shapes). Auto: conv2d picks by shape.
enum class Mode { Off, Auto, Force };
Mode mode();

// y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, 3, 3), padding) + bias (O) or no bias;
// Ho = H + 2 padH - 2, Wo = W + 2 padW - 2, both >= 1. All arrays contiguous NCHW. With z (y's shape)
// and relu (convBiasAct), y = act(conv + bias + z), applied to each stretch of y as the output
// transform writes it (see epilogue.h).
// With `transformed` (forwardWeights(w, O, C), made once and kept while w is unchanged), w is
// not read.
void forward(const float* x, const float* w, const float* bias, float* y, int64_t N, int64_t C, int64_t H,
             int64_t W, int64_t O, int64_t padH, int64_t padW, const float* z = nullptr, bool relu = false,
             const float* transformed = nullptr);
// The transformed weights forward uses, from w (O, C, 3, 3).
std::vector<float> forwardWeights(const float* w, int64_t O, int64_t C);

// dx (N, C, H, W) from dy (N, O, Ho, Wo) and w (O, C, 3, 3), for the forward above (written, not accumulated).
void backwardData(const float* dy, const float* w, float* dx, int64_t N, int64_t C, int64_t H, int64_t W,
                  int64_t O, int64_t padH, int64_t padW);

// Under autocast bfloat16 on a CPU with AVX-512 BF16 (bf16ComputeNative, gemm_bf16.h): forward
// (bias, ReLU, no z) and backward-data with the product stage in bfloat16 (winograd_bf16.h): the
// transformed input tiles and weights are rounded to bfloat16 as they are packed in channel pairs,
// their products summed in float32 (vdpbf16ps); the transforms stay float32 and the output is
// rounded to bfloat16 as it is written. `transformed` is forwardWeightsBf16(w, O, C) for forwardBf16,
// backwardDataWeightsBf16(w, O, C) for backwardDataBf16 (both made once and kept while w is unchanged).
std::vector<float> forwardWeightsBf16(const float* w, int64_t O, int64_t C);
std::vector<float> backwardDataWeightsBf16(const float* w, int64_t O, int64_t C);
void forwardBf16(const float* x, const float* bias, float* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                 int64_t padH, int64_t padW, bool relu, const float* transformed);
void backwardDataBf16(const float* dy, const float* transformed, float* dx, int64_t N, int64_t C, int64_t H, int64_t W,
                      int64_t O, int64_t padH, int64_t padW);

// dw (O, C, 3, 3) from dy (N, O, Ho, Wo) and x (N, C, H, W), for the forward above (written, not accumulated).
// With bf16Products (autocast bfloat16, bf16ComputeNative), the dot products of transformed dy and x
// tiles are bfloat16 ones (winograd_bf16.h: both rounded as they are paired along the tiles).
void backwardFilter(const float* dy, const float* x, float* dw, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t O, int64_t padH, int64_t padW, bool bf16Products = false);

}  // namespace winograd
}  // namespace cr
