// The element-wise ops' contract, the same on every device (cpu/elementwise.cc and
// cuda/kernels/elementwise.cu, reduce.cu use it): binary's op codes (native.binary's BINARY in
// lib/binding.ts), broadcasting, the reductions' dimensions and shapes, the counter's checks.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/tensor.h"

namespace cr {

enum class BinaryOp { Add = 0, Sub = 1, Mul = 2, Div = 3 };

// The shape a and b broadcast to (NumPy's rule); RangeError naming op when they do not.
Shape broadcastShapes(const char* op, const Shape& a, const Shape& b);
// Shared with the CUDA twins: the op's name ("add" ...); which dimensions a sum reduces (all when
// dims is empty; RangeError on a dimension out of range or listed twice); the sum's output shape;
// and the dimensions sumTo reduces to get from x to shape (RangeError when shape does not
// broadcast to x).
const char* binaryName(BinaryOp op);
std::vector<bool> reducedDims(const std::vector<int64_t>& dims, int64_t rank);
Shape reducedShape(const Shape& x, const std::vector<bool>& reduced, bool keepDim);
std::vector<int64_t> sumToDims(const Shape& x, const Shape& shape);
// increment's counter: a one-element int32 or int64 tensor on `device`.
void checkCounter(const Tensor& t, Device device);

}  // namespace cr
