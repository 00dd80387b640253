// Element-wise ops on float32 tensors: unary activations, binary ops with NumPy
// broadcasting, scalar affine maps, and the reductions that undo broadcasting.
#pragma once
#include "../core/tensor.h"

namespace cr {

enum class BinaryOp { Add = 0, Sub = 1, Mul = 2, Div = 3 };

Shape broadcastShapes(const char* op, const Shape& a, const Shape& b);
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
// Shared with the CUDA twins: the op's name ("add" ...); which dimensions a sum reduces (all when
// dims is empty; RangeError on a dimension out of range or listed twice); the sum's output shape;
// and the dimensions sumTo reduces to get from x to shape (RangeError when shape does not
// broadcast to x).
const char* binaryName(BinaryOp op);
std::vector<bool> reducedDims(const std::vector<int64_t>& dims, int64_t rank);
Shape reducedShape(const Shape& x, const std::vector<bool>& reduced, bool keepDim);
std::vector<int64_t> sumToDims(const Shape& x, const Shape& shape);
// Sum over the listed dimensions (all when empty); keepDim keeps them as size 1.
Tensor reduceSum(const Tensor& x, const std::vector<int64_t>& dims, bool keepDim);
// Fills with a constant.
Tensor full(const Shape& shape, double value, DType dtype);
// t += 1 in place, for a one-element int32 or int64 tensor (a counter kept on its device, so that
// counting reads nothing back; a CUDA graph replay counts too).
void increment(Tensor& t);
void checkCounter(const Tensor& t, Device device);

}  // namespace cr
