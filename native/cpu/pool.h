// 2-D max, average and adaptive average pooling, forward and backward, float32 on the CPU, as PyTorch.
// x: (N, C, H, W) in either memory format; a forward output has x's memory format (argmax included), and
// a backward output (dx) has dy's.
#pragma once
#include "../core/tensor.h"

namespace cr {

// pool.h — x: (N, C, H, W)
struct Pool2dParams { int64_t kernelH, kernelW, strideH, strideW, padH, padW; bool ceilMode = false; bool countIncludePad = true; };
Shape pool2dOutputShape(const Shape& x, const Pool2dParams& p);     // as PyTorch, incl. ceil_mode rule; RangeError when pad > kernel/2 or output empty
// The checks shared with the CUDA twins (op names the caller in messages): a (N, C, H, W) shape
// with non-zero C, H, W and an H*W plane that int32 indexes; float32 x on `device` of such a
// shape; and pool2dOutputShape's checks and result.
void checkPoolShape(const char* op, const char* name, const Shape& x);
void checkPoolInput(const char* op, Device device, const Tensor& x);
Shape pooledShape(const char* op, const Shape& x, const Pool2dParams& p);
struct MaxPoolResult { Tensor y, argmax; };                          // argmax: int32 (N, C, Ho, Wo), flat index into the H*W plane
MaxPoolResult maxPool2d(const Tensor& x, const Pool2dParams& p);   // padding is -inf; NaN propagates as in PyTorch
Tensor maxPool2dBackward(const Tensor& dy, const Tensor& argmax, const Shape& xShape);
Tensor avgPool2d(const Tensor& x, const Pool2dParams& p);         // countIncludePad as PyTorch (pad counted, window clipped to the padded input)
Tensor avgPool2dBackward(const Tensor& dy, const Shape& xShape, const Pool2dParams& p);
// PyTorch's adaptive_avg_pool2d: window i spans [floor(i*H/Ho), ceil((i+1)*H/Ho)).
Tensor adaptiveAvgPool2d(const Tensor& x, int64_t outH, int64_t outW);
Tensor adaptiveAvgPool2dBackward(const Tensor& dy, const Shape& xShape);

}  // namespace cr
