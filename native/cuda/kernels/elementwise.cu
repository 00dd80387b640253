// Element-wise ops on float32 GPU tensors, the twins of native/cpu/elementwise.cc: binary ops
// with NumPy broadcasting, affine maps, ReLU and sigmoid with their backward rules,
// broadcastTo and full. Products and sums use the _rn intrinsics so that nothing is fused into
// an FMA: each result is rounded as the CPU rounds it.
#include "../ops.h"
#include "indexing.cuh"
#include "tensor_checks.cuh"

namespace cr::cuda {
namespace {

struct AddOp { __device__ float operator()(float x, float y) const { return __fadd_rn(x, y); } };
struct SubOp { __device__ float operator()(float x, float y) const { return __fsub_rn(x, y); } };
struct MulOp { __device__ float operator()(float x, float y) const { return __fmul_rn(x, y); } };
struct DivOp { __device__ float operator()(float x, float y) const { return __fdiv_rn(x, y); } };
// dy * (y > 0)
struct ReluGradOp { __device__ float operator()(float g, float out) const { return out > 0.f ? g : 0.f; } };
// dy * y * (1 - y)
struct SigmoidGradOp {
  __device__ float operator()(float g, float out) const { return __fmul_rn(__fmul_rn(g, out), __fsub_rn(1.f, out)); }
};

struct FirstOp { __device__ float operator()(float v, float) const { return v; } };

struct AffineOp {
  float scale, shift;
  __device__ float operator()(float v) const { return __fadd_rn(__fmul_rn(v, scale), shift); }
};
struct ReluOp {
  __device__ float operator()(float v) const { return v > 0.f ? v : (isnan(v) ? v : 0.f); }
};
// exp in double rounded to float: the CPU's expf (glibc, nearly always correctly rounded) gives
// the same float except in rare near-ties.
__device__ inline float expAsFloat(float v) { return static_cast<float>(exp(static_cast<double>(v))); }
struct SigmoidOp {
  __device__ float operator()(float v) const {
    if (v >= 0.f) return __fdiv_rn(1.f, __fadd_rn(1.f, expAsFloat(-v)));
    float e = expAsFloat(v);
    return __fdiv_rn(e, __fadd_rn(1.f, e));
  }
};

template <typename F>
__global__ void unaryKernel(const float* in, float* out, int64_t n, F f) {
  CR_GRID_STRIDE(i, n) out[i] = f(in[i]);
}

template <typename F>
__global__ void pairFlatKernel(const float* a, const float* b, float* out, int64_t n, F f) {
  CR_GRID_STRIDE(i, n) out[i] = f(a[i], b[i]);
}

// out[i] = f(a[offA], b[offB]) with the offsets of row-major index i from the walk.
template <typename Index, typename F>
__global__ void pairStridedKernel(const float* a, const float* b, float* out, int64_t n, StridedWalk<2> walk,
                                  F f) {
  CR_GRID_STRIDE(i, n) {
    int64_t off[2];
    walk.offsets(static_cast<Index>(i), off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

template <typename Element>
__global__ void fillKernel(Element* out, int64_t n, Element value) {
  CR_GRID_STRIDE(i, n) out[i] = value;
}

template <typename F>
Tensor mapUnary(const Tensor& x, F f) {
  Tensor out = cuda::empty(x.shape, DType::Float32, x.format);
  int64_t n = x.numel();
  if (n == 0) return out;
  unaryKernel<<<blocksFor(n), kThreads, 0, stream()>>>(x.f32(), out.f32(), n, f);
  CR_CUDA_CHECK_LAUNCH("unaryKernel");
  return out;
}

template <typename F>
void launchStrided(const float* a, const float* b, float* out, int64_t n, const StridedWalk<2>& walk, F f) {
  if (fitsIndex32(n))
    pairStridedKernel<uint32_t><<<blocksFor(n), kThreads, 0, stream()>>>(a, b, out, n, walk, f);
  else
    pairStridedKernel<int64_t><<<blocksFor(n), kThreads, 0, stream()>>>(a, b, out, n, walk, f);
  CR_CUDA_CHECK_LAUNCH("pairStridedKernel");
}

// Same shapes: the result takes a's memory format; b is read in its own format.
template <typename F>
Tensor mapPair(const char* op, const Tensor& a, const Tensor& b, F f) {
  expectFloat32Gpu(op, "first argument", a);
  expectFloat32Gpu(op, "second argument", b);
  expectShape(op, "second argument", b, a.shape);
  Tensor out = cuda::empty(a.shape, DType::Float32, a.format);
  int64_t n = a.numel();
  if (n == 0) return out;
  if (a.format == b.format) {
    pairFlatKernel<<<blocksFor(n), kThreads, 0, stream()>>>(a.f32(), b.f32(), out.f32(), n, f);
    CR_CUDA_CHECK_LAUNCH("pairFlatKernel");
    return out;
  }
  // Formats differ (4-D): walk a's storage order, reading b in its own.
  launchStrided(a.f32(), b.f32(), out.f32(), n, sameShapeWalk(op, a, b), f);
  return out;
}

// Different shapes: a contiguous result of the broadcast shape.
template <typename F>
Tensor binaryWith(const char* op, const Tensor& a, const Tensor& b, F f) {
  if (a.shape == b.shape) return mapPair(op, a, b, f);
  expectFloat32Gpu(op, "first argument", a);
  expectFloat32Gpu(op, "second argument", b);
  Shape shape = cr::broadcastShapes(op, a.shape, b.shape);
  Tensor out = cuda::empty(shape);
  int64_t n = out.numel();
  if (n == 0) return out;
  launchStrided(a.f32(), b.f32(), out.f32(), n, broadcastWalk(op, a, b, shape), f);
  return out;
}

template <typename Element>
void fill(Tensor& out, Element value) {
  int64_t n = out.numel();
  if (n == 0) return;
  fillKernel<<<blocksFor(n), kThreads, 0, stream()>>>(out.data<Element>(), n, value);
  CR_CUDA_CHECK_LAUNCH("fillKernel");
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binaryName(op);
  switch (op) {
    case BinaryOp::Add: return binaryWith(name, a, b, AddOp{});
    case BinaryOp::Sub: return binaryWith(name, a, b, SubOp{});
    case BinaryOp::Mul: return binaryWith(name, a, b, MulOp{});
    case BinaryOp::Div: return binaryWith(name, a, b, DivOp{});
  }
  CR_CHECK(false, "binary: unknown op");
}

Tensor affine(const Tensor& x, double scale, double shift) {
  expectFloat32Gpu("affine", "input", x);
  return mapUnary(x, AffineOp{static_cast<float>(scale), static_cast<float>(shift)});
}

Tensor relu(const Tensor& x) {
  expectFloat32Gpu("relu", "input", x);
  return mapUnary(x, ReluOp{});
}

Tensor reluBackward(const Tensor& dy, const Tensor& y) { return mapPair("reluBackward", dy, y, ReluGradOp{}); }

Tensor sigmoid(const Tensor& x) {
  expectFloat32Gpu("sigmoid", "input", x);
  return mapUnary(x, SigmoidOp{});
}

Tensor sigmoidBackward(const Tensor& dy, const Tensor& y) {
  return mapPair("sigmoidBackward", dy, y, SigmoidGradOp{});
}

Tensor broadcastTo(const Tensor& x, const Shape& shape) {
  expectFloat32Gpu("broadcastTo", "input", x);
  Shape target = cr::broadcastShapes("broadcastTo", x.shape, shape);
  CR_CHECK_RANGE(target == shape, "broadcastTo: shape ", shapeString(x.shape), " cannot be expanded to ",
                 shapeString(shape));
  Tensor out = cuda::empty(shape);
  int64_t n = out.numel();
  if (n == 0) return out;
  // x is both operands; FirstOp reads the first.
  launchStrided(x.f32(), x.f32(), out.f32(), n, broadcastWalk("broadcastTo", x, x, shape), FirstOp{});
  return out;
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor out = cuda::empty(shape, dtype);
  float v = static_cast<float>(value);
  switch (dtype) {
    case DType::Float32: fill<float>(out, v); break;
    case DType::Float16: fill<uint16_t>(out, cr::floatToHalf(v)); break;
    case DType::BFloat16: fill<uint16_t>(out, cr::floatToBFloat16(v)); break;
    case DType::Int32: fill<int32_t>(out, static_cast<int32_t>(value)); break;
    case DType::Int64: fill<int64_t>(out, static_cast<int64_t>(value)); break;
    case DType::UInt8: fill<uint8_t>(out, static_cast<uint8_t>(value)); break;
  }
  return out;
}

namespace {
template <typename T>
__global__ void incrementKernel(T* counter) {
  *counter += 1;
}
}  // namespace

void increment(Tensor& t) {
  checkCounter(t, Device::CUDA);
  if (t.dtype == DType::Int64) incrementKernel<<<1, 1, 0, stream()>>>(t.data<int64_t>());
  else incrementKernel<<<1, 1, 0, stream()>>>(t.data<int32_t>());
  CR_CUDA_CHECK_LAUNCH("incrementKernel");
}

}  // namespace cr::cuda
