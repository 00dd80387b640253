// The pooling ops' contract, the same on every device: their parameters, their argument checks
// (with the sentences errors carry) and their output shapes. cpu/pool.cc and
// cuda/kernels/pool.cu run these checks first, then their kernels. x: (N, C, H, W).
#pragma once
#include "../core/tensor.h"

namespace cr {

struct Pool2dParams { int64_t kernelH, kernelW, strideH, strideW, padH, padW; bool ceilMode = false; bool countIncludePad = true; };
struct MaxPoolResult { Tensor y, argmax; };  // argmax: int32 (N, C, Ho, Wo), flat index into the H*W plane

// As PyTorch, incl. the ceil_mode rule; RangeError when pad > kernel / 2 or the output is empty.
Shape pool2dOutputShape(const Shape& x, const Pool2dParams& p);
// A (N, C, H, W) shape with non-zero C, H, W and an H*W plane that int32 indexes.
void checkPoolShape(const char* op, const char* name, const Shape& x);
// Float32 x on `device` of such a shape.
void checkPoolInput(const char* op, Device device, const Tensor& x);
// pool2dOutputShape's checks and result, with `op` in the messages.
Shape pooledShape(const char* op, const Shape& x, const Pool2dParams& p);

// maxPool2d and avgPool2d (op): x's checks; the output shape.
Shape checkPool2d(const char* op, Device device, const Tensor& x, const Pool2dParams& p);
// maxPool2dBackward: dy float32 (N, C, Ho, Wo) with xShape's N and C, argmax int32 of dy's shape,
// both on `device`.
void checkMaxPool2dBackward(Device device, const Tensor& dy, const Tensor& argmax, const Shape& xShape);
// avgPool2dBackward: dy float32 of the pooled shape of xShape; that shape.
Shape checkAvgPool2dBackward(Device device, const Tensor& dy, const Shape& xShape, const Pool2dParams& p);
void checkAdaptiveAvgPool2d(Device device, const Tensor& x, int64_t outH, int64_t outW);
// adaptiveAvgPool2dBackward: dy float32 (N, C, Ho, Wo) with xShape's N and C.
void checkAdaptiveAvgPool2dBackward(Device device, const Tensor& dy, const Shape& xShape);

}  // namespace cr
