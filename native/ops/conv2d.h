// The convolution's contract, the same on every device (cpu/conv2d.cc, cuda/conv2d.cc and both
// convBnStats use it): its parameters, its gradients' struct, and the checks of x's and the
// weight's shapes and of the parameters, which give the output shape.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace cr {

struct Conv2dParams {
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
  // Autocast bfloat16 on a CPU with AVX-512 BF16 (cpu/gemm_bf16.h): the operands rounded to
  // bfloat16, their products summed in float32, the result rounded to bfloat16; in the backward
  // pass dy is rounded too and dx, dweight and dbias are rounded. The GPU takes bfloat16 tensors
  // instead and never sets it.
  bool bf16Compute = false;
};
struct Conv2dGrads { Tensor dx, dweight, dbias; };  // empty Tensors (no storage) where not requested

// x (N, C, H, W) and weight (O, C / groups, kH, kW) -> y's shape (N, O, Ho, Wo); RangeError with a
// sentence naming `op` for a bad shape or parameter, or when the output would be empty.
Shape conv2dOutputShape(const Shape& x, const Shape& weight, const Conv2dParams& p, const char* op = "conv2d");

}  // namespace cr
