#include "elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../core/error.h"
#include "../core/parallel.h"

namespace cr {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename F>
Tensor mapUnary(const Tensor& x, F f) {
  Tensor out = empty(x.shape, DType::Float32, x.format);
  const float* in = x.f32();
  float* o = out.f32();
  parallelFor(0, x.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = f(in[i]);
  });
  return out;
}

template <typename F>
Tensor mapPair(const char* op, const Tensor& a, const Tensor& b, F f) {
  expectFloat32(op, "first argument", a);
  expectFloat32(op, "second argument", b);
  expectShape(op, "second argument", b, a.shape);
  Tensor bSame = a.format == b.format ? b : toFormat(b, a.format);
  Tensor out = empty(a.shape, DType::Float32, a.format);
  const float* pa = a.f32();
  const float* pb = bSame.f32();
  float* o = out.f32();
  parallelFor(0, a.numel(), kGrain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) o[i] = f(pa[i], pb[i]);
  });
  return out;
}

// Strides of `shape` (row-major) as seen from the broadcast shape `out` (0 on broadcast dims).
std::vector<int64_t> broadcastStrides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1, j = static_cast<int64_t>(out.size()) - 1; i >= 0;
       --i, --j) {
    strides[j] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

// Offset in a row-major tensor seen through `strides` of the element at flat index i of `out`.
inline int64_t offsetOf(int64_t i, const Shape& out, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
    int64_t idx = i % out[d];
    i /= out[d];
    off += idx * strides[d];
  }
  return off;
}

template <typename F>
void broadcastLoop(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  auto sa = broadcastStrides(a.shape, out.shape), sb = broadcastStrides(b.shape, out.shape);
  const float* pa = a.f32();
  const float* pb = b.f32();
  float* o = out.f32();
  int64_t inner = out.shape.empty() ? 1 : out.shape.back();
  int64_t strideA = sa.empty() ? 0 : sa.back(), strideB = sb.empty() ? 0 : sb.back();
  int64_t rows = out.numel() / std::max<int64_t>(inner, 1);
  if (inner == 0) return;
  parallelFor(0, rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      int64_t offA = offsetOf(r * inner, out.shape, sa), offB = offsetOf(r * inner, out.shape, sb);
      float* row = o + r * inner;
      for (int64_t k = 0; k < inner; ++k) row[k] = f(pa[offA + k * strideA], pb[offB + k * strideB]);
    }
  });
}

template <typename F>
Tensor binaryWith(const char* op, const Tensor& a, const Tensor& b, F f) {
  if (a.shape == b.shape) return mapPair(op, a, b, f);
  expectFloat32(op, "first argument", a);
  expectFloat32(op, "second argument", b);
  Shape shape = broadcastShapes(op, a.shape, b.shape);
  Tensor ca = contiguous(a), cb = contiguous(b);
  Tensor out = empty(shape);
  broadcastLoop(ca, cb, out, f);
  return out;
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binaryName(op);
  switch (op) {
    case BinaryOp::Add: return binaryWith(name, a, b, [](float x, float y) { return x + y; });
    case BinaryOp::Sub: return binaryWith(name, a, b, [](float x, float y) { return x - y; });
    case BinaryOp::Mul: return binaryWith(name, a, b, [](float x, float y) { return x * y; });
    case BinaryOp::Div: return binaryWith(name, a, b, [](float x, float y) { return x / y; });
  }
  CR_CHECK(false, "binary: unknown op");
}

Tensor affine(const Tensor& x, double scale, double shift) {
  expectFloat32("affine", "input", x);
  float s = static_cast<float>(scale), t = static_cast<float>(shift);
  return mapUnary(x, [s, t](float v) { return v * s + t; });
}

Tensor relu(const Tensor& x) {
  expectFloat32("relu", "input", x);
  return mapUnary(x, [](float v) { return v > 0.f ? v : (std::isnan(v) ? v : 0.f); });
}

Tensor reluBackward(const Tensor& dy, const Tensor& y) {
  return mapPair("reluBackward", dy, y, [](float g, float out) { return out > 0.f ? g : 0.f; });
}

Tensor sigmoid(const Tensor& x) {
  expectFloat32("sigmoid", "input", x);
  return mapUnary(x, [](float v) {
    return v >= 0.f ? 1.f / (1.f + std::exp(-v)) : std::exp(v) / (1.f + std::exp(v));
  });
}

Tensor sigmoidBackward(const Tensor& dy, const Tensor& y) {
  return mapPair("sigmoidBackward", dy, y, [](float g, float out) { return g * out * (1.f - out); });
}

Tensor broadcastTo(const Tensor& x, const Shape& shape) {
  expectFloat32("broadcastTo", "input", x);
  Shape target = broadcastShapes("broadcastTo", x.shape, shape);
  CR_CHECK_RANGE(target == shape, "broadcastTo: shape ", shapeString(x.shape), " cannot be expanded to ",
                 shapeString(shape));
  Tensor cx = contiguous(x);
  Tensor out = empty(shape);
  Tensor zero = zeros({});
  broadcastLoop(cx, zero, out, [](float v, float) { return v; });
  return out;
}

Tensor sumTo(const Tensor& x, const Shape& shape) {
  expectFloat32("sumTo", "input", x);
  if (x.shape == shape) return x;
  Tensor summed = reduceSum(x, sumToDims(x.shape, shape), true);
  return view(summed, shape);
}

Tensor reduceSum(const Tensor& x, const std::vector<int64_t>& dimsIn, bool keepDim) {
  expectFloat32("sum", "input", x);
  int64_t rank = x.dim();
  const std::vector<bool> reduced = reducedDims(dimsIn, rank);
  Tensor cx = contiguous(x);
  Tensor out = empty(reducedShape(x.shape, reduced, keepDim));
  int64_t outCount = out.numel();
  // Output element o accumulates the inputs that map to it; iterate outputs in parallel and
  // walk the reduced sub-space of each (double accumulation).
  Shape reducedShape;
  std::vector<int64_t> inStride(rank), reducedStrides;
  for (int64_t i = rank - 1, s = 1; i >= 0; --i) {
    inStride[i] = s;
    s *= x.shape[i];
  }
  for (int64_t i = 0; i < rank; ++i)
    if (reduced[i]) {
      reducedShape.push_back(x.shape[i]);
      reducedStrides.push_back(inStride[i]);
    }
  std::vector<int64_t> keptStrides;
  Shape keptOnly;
  for (int64_t i = 0; i < rank; ++i)
    if (!reduced[i]) {
      keptOnly.push_back(x.shape[i]);
      keptStrides.push_back(inStride[i]);
    }
  int64_t reducedCount = numelOf(reducedShape);
  const float* in = cx.f32();
  float* o = out.f32();
  int64_t innerStride = reducedStrides.empty() ? 0 : reducedStrides.back();
  int64_t innerCount = reducedShape.empty() ? 1 : reducedShape.back();
  parallelFor(0, outCount, std::max<int64_t>(1, kGrain / std::max<int64_t>(reducedCount, 1)), [&](int64_t s, int64_t e) {
    for (int64_t oi = s; oi < e; ++oi) {
      int64_t base = offsetOf(oi, keptOnly, keptStrides);
      double acc = 0;
      for (int64_t r = 0; r < reducedCount; r += innerCount) {
        int64_t off = base + offsetOf(r, reducedShape, reducedStrides);
        for (int64_t k = 0; k < innerCount; ++k) acc += in[off + k * innerStride];
      }
      o[oi] = static_cast<float>(acc);
    }
  });
  return out;
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor out = empty(shape, dtype);
  int64_t n = out.numel();
  switch (dtype) {
    case DType::Float32: std::fill_n(out.f32(), n, static_cast<float>(value)); break;
    case DType::Float16: std::fill_n(out.data<uint16_t>(), n, floatToHalf(static_cast<float>(value))); break;
    case DType::BFloat16: std::fill_n(out.data<uint16_t>(), n, floatToBFloat16(static_cast<float>(value))); break;
    case DType::Int32: std::fill_n(out.data<int32_t>(), n, static_cast<int32_t>(value)); break;
    case DType::Int64: std::fill_n(out.data<int64_t>(), n, static_cast<int64_t>(value)); break;
    case DType::UInt8: std::fill_n(out.data<uint8_t>(), n, static_cast<uint8_t>(value)); break;
  }
  return out;
}

void increment(Tensor& t) {
  checkCounter(t, Device::CPU);
  if (t.dtype == DType::Int64) t.data<int64_t>()[0] += 1;
  else t.data<int32_t>()[0] += 1;
}

}  // namespace cr
