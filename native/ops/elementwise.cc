#include "elementwise.h"

#include <algorithm>

#include "../core/error.h"

namespace cr {

const char* binaryName(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

std::vector<bool> reducedDims(const std::vector<int64_t>& dims, int64_t rank) {
  std::vector<bool> reduced(rank, dims.empty());
  for (int64_t d : dims) {
    int64_t dd = d < 0 ? d + rank : d;
    CR_CHECK_RANGE(dd >= 0 && dd < rank, "sum: dimension ", d, " is out of range for a ", rank, "-D tensor");
    CR_CHECK_RANGE(!reduced[dd], "sum: dimension ", d, " is listed twice");
    reduced[dd] = true;
  }
  return reduced;
}

Shape reducedShape(const Shape& x, const std::vector<bool>& reduced, bool keepDim) {
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i]) out.push_back(x[i]);
    else if (keepDim) out.push_back(1);
  }
  return out;
}

std::vector<int64_t> sumToDims(const Shape& x, const Shape& shape) {
  CR_CHECK_RANGE(broadcastShapes("sumTo", shape, x) == x, "sumTo: shape ", shapeString(shape),
                 " does not broadcast to ", shapeString(x));
  std::vector<int64_t> dims;
  size_t lead = x.size() - shape.size();
  for (size_t i = 0; i < x.size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x[i] != 1)) dims.push_back(static_cast<int64_t>(i));
  return dims;
}

Shape broadcastShapes(const char* op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    CR_CHECK_RANGE(da == db || da == 1 || db == 1, op, ": shapes ", shapeString(a), " and ", shapeString(b),
                   " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void checkCounter(const Tensor& t, Device device) {
  CR_CHECK_TYPE(t.device == device, "increment: the counter must be on ", device == Device::CUDA ? "the GPU" : "the CPU");
  CR_CHECK_TYPE(t.dtype == DType::Int32 || t.dtype == DType::Int64, "increment: the counter must be int32 or int64, got ",
                dtypeName(t.dtype));
  CR_CHECK_RANGE(t.numel() == 1, "increment: the counter must hold one element, got ", t.numel());
}

}  // namespace cr
