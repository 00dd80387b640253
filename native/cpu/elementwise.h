// Element-wise ops on float32 tensors: unary activations, binary ops with NumPy
// broadcasting, scalar affine maps, and the reductions that undo broadcasting. The contract
// (op codes, shapes, checks), shared with the GPU: ops/elementwise.h.
#pragma once
#include "../core/tensor.h"
#include "../ops/elementwise.h"

namespace cr {

// out = a (op) b with broadcasting; the result takes a's memory format when shapes are equal.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// out = x * scale + shift
Tensor affine(const Tensor& x, double scale, double shift);
Tensor relu(const Tensor& x);
// dy * (y > 0), y being relu's output
Tensor reluBackward(const Tensor& dy, const Tensor& y);
Tensor sigmoid(const Tensor& x);
// dy * y * (1 - y), y being sigmoid's output
Tensor sigmoidBackward(const Tensor& dy, const Tensor& y);
// Copies x into a tensor of the broadcast shape `shape`.
Tensor broadcastTo(const Tensor& x, const Shape& shape);
// Sums x over the dimensions that broadcasting to x's shape expanded from `shape` (the gradient of broadcastTo).
Tensor sumTo(const Tensor& x, const Shape& shape);
// Sum over the listed dimensions (all when empty); keepDim keeps them as size 1.
Tensor reduceSum(const Tensor& x, const std::vector<int64_t>& dims, bool keepDim);
// Fills with a constant.
Tensor full(const Shape& shape, double value, DType dtype);
// t += 1 in place, for a one-element int32 or int64 tensor (a counter kept on its device, so that
// counting reads nothing back; a CUDA graph replay counts too).
void increment(Tensor& t);

}  // namespace cr
