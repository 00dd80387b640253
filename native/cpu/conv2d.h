// 2-D convolution on the CPU, forward and backward, with PyTorch's semantics
// (torch.nn.functional.conv2d: cross-correlation, zero padding, stride, dilation, groups).
// Inputs may be contiguous (NCHW) or channelsLast (NHWC); y and dx come back in x's format,
// dweight and dbias contiguous. Computed as im2col + sgemm per (image, group).
// conv2dOutputShape returns the full output shape (N, O, Ho, Wo) after checking both shapes
// and the parameters.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace cr {

struct Conv2dParams {
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
};
// Output spatial size; throws RangeError with a sentence when the output would be empty.
Shape conv2dOutputShape(const Shape& x, const Shape& weight, const Conv2dParams& p);
// x: (N, C, H, W), weight: (O, C / groups, kH, kW), bias: (O) or nullptr -> y: (N, O, Ho, Wo)
Tensor conv2dForward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p);
// y = act(conv2d(x, weight) + bias + z), act = ReLU when relu else the identity, for inference (no
// backward): the bias, the residual z (y's shape, either memory format; nullptr for none) and the
// ReLU are applied to each tile of y as it is computed (epilogue.h) instead of in separate passes.
// Same result as conv2dForward with the bias, then binary add and relu. Errors name "convBiasAct".
Tensor convBiasActForward(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* z, bool relu,
                          const Conv2dParams& p);
struct Conv2dGrads { Tensor dx, dweight, dbias; };  // empty Tensors (no storage) where not requested
// dy: (N, O, Ho, Wo). Computes only the grads whose flag is set.
Conv2dGrads conv2dBackward(const Tensor& dy, const Tensor& x, const Tensor& weight, const Conv2dParams& p,
                           bool needDx, bool needDweight, bool needDbias);

}  // namespace cr
