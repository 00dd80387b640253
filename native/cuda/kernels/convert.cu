// Conversions of GPU tensors, the twins of cast and toFormat in native/core/tensor.cc: element
// type casts with the CPU's exact results (float_bits.cuh), and NCHW <-> NHWC as a tiled
// transpose of each image, (C, H*W) <-> (H*W, C).
#include <algorithm>

#include "../../core/format_change.h"
#include "../ops.h"
#include "common.cuh"
#include "float_bits.cuh"
#include "tensor_checks.cuh"

namespace cr::cuda {
namespace {

struct CastArgs {
  const void* src;
  void* dst;
  int64_t n;
  DType from, to;
  bool x86;  // the CPU build's float -> integer conversion (see float_bits.cuh)
};

__device__ inline int64_t loadIntegral(const void* src, DType from, int64_t i) {
  switch (from) {
    case DType::Int32: return static_cast<const int32_t*>(src)[i];
    case DType::Int64: return static_cast<const int64_t*>(src)[i];
    default: return static_cast<const uint8_t*>(src)[i];
  }
}

__device__ inline float loadAsFloat(const void* src, DType from, int64_t i) {
  switch (from) {
    case DType::Float32: return static_cast<const float*>(src)[i];
    case DType::Float16: return halfToFloat(static_cast<const uint16_t*>(src)[i]);
    case DType::BFloat16: return bfloat16ToFloat(static_cast<const uint16_t*>(src)[i]);
    case DType::Int32: return static_cast<float>(static_cast<const int32_t*>(src)[i]);
    case DType::Int64: return static_cast<float>(static_cast<const int64_t*>(src)[i]);
    case DType::UInt8: return static_cast<float>(static_cast<const uint8_t*>(src)[i]);
  }
  return 0.f;
}

__device__ inline void storeFloat(void* dst, DType to, int64_t i, float v, bool x86) {
  switch (to) {
    case DType::Float32: static_cast<float*>(dst)[i] = v; break;
    case DType::Float16: static_cast<uint16_t*>(dst)[i] = floatToHalf(v); break;
    case DType::BFloat16: static_cast<uint16_t*>(dst)[i] = floatToBFloat16(v); break;
    case DType::Int32: static_cast<int32_t*>(dst)[i] = int32OfFloat(v, x86); break;
    case DType::Int64: static_cast<int64_t*>(dst)[i] = int64OfFloat(v, x86); break;
    case DType::UInt8: static_cast<uint8_t*>(dst)[i] = uint8OfFloat(v, x86); break;
  }
}

__device__ inline bool isIntegral(DType d) { return d == DType::Int32 || d == DType::Int64 || d == DType::UInt8; }

// As the CPU: integer -> integer through int64 (wrapping), everything else through float.
__global__ void castKernel(CastArgs a) {
  bool integral = isIntegral(a.from) && isIntegral(a.to);
  CR_GRID_STRIDE(i, a.n) {
    if (integral) {
      int64_t v = loadIntegral(a.src, a.from, i);
      if (a.to == DType::Int32) static_cast<int32_t*>(a.dst)[i] = static_cast<int32_t>(v);
      else if (a.to == DType::Int64) static_cast<int64_t*>(a.dst)[i] = v;
      else static_cast<uint8_t*>(a.dst)[i] = static_cast<uint8_t>(v);
    } else {
      storeFloat(a.dst, a.to, i, loadAsFloat(a.src, a.from, i), a.x86);
    }
  }
}

constexpr int kTile = 32, kTileRows = 8;

// dst (cols, rows) = src (rows, cols)^T for each image, through a 32x32 tile in shared memory so
// that both global reads and writes are coalesced. Blocks are (32, 8) threads.
template <typename Element>
__global__ void transposeImagesKernel(const Element* src, Element* dst, int64_t images, int64_t rows, int64_t cols) {
  __shared__ Element tile[kTile][kTile + 1];
  int64_t plane = rows * cols;
  int64_t c0 = blockIdx.x * static_cast<int64_t>(kTile);
  for (int64_t image = blockIdx.z; image < images; image += gridDim.z) {
    const Element* s = src + image * plane;
    Element* d = dst + image * plane;
    for (int64_t r0 = blockIdx.y * static_cast<int64_t>(kTile); r0 < rows; r0 += gridDim.y * static_cast<int64_t>(kTile)) {
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        int64_t r = r0 + k, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[k][threadIdx.x] = s[r * cols + c];
      }
      __syncthreads();
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        int64_t c = c0 + k, r = r0 + threadIdx.x;
        if (c < cols && r < rows) d[c * rows + r] = tile[threadIdx.x][k];
      }
      __syncthreads();
    }
  }
}

template <typename Element>
void transposeImages(const void* src, void* dst, int64_t images, int64_t rows, int64_t cols) {
  auto tiles = [](int64_t n) { return (n + kTile - 1) / kTile; };
  dim3 grid(static_cast<unsigned int>(tiles(cols)), static_cast<unsigned int>(std::min<int64_t>(tiles(rows), 65535)),
            static_cast<unsigned int>(std::min<int64_t>(images, 65535)));
  transposeImagesKernel<Element><<<grid, dim3(kTile, kTileRows), 0, stream()>>>(
      static_cast<const Element*>(src), static_cast<Element*>(dst), images, rows, cols);
  CR_CUDA_CHECK_LAUNCH("transposeImagesKernel");
}

}  // namespace

Tensor cast(const Tensor& t, DType dtype) {
  expectGpu("cast", "input", t);
  Tensor out = cuda::empty(t.shape, dtype, t.format);
  int64_t n = t.numel();
  if (n == 0) return out;
  CastArgs args{t.storage->data, out.storage->data, n, t.dtype, dtype, hostIsX86()};
  castKernel<<<blocksFor(n), kThreads, 0, stream()>>>(args);
  CR_CUDA_CHECK_LAUNCH("castKernel");
  return out;
}

Tensor toFormat(const Tensor& t, MemoryFormat format) {
  expectGpu("toFormat", "input", t);
  Tensor out = cuda::empty(t.shape, t.dtype, format);
  if (t.nbytes() == 0) return out;
  FormatChange change = formatChange(t, format);
  if (change.copy) {
    CR_CUDA_CHECK(cudaMemcpyAsync(out.storage->data, t.storage->data, t.nbytes(), cudaMemcpyDeviceToDevice, stream()));
    return out;
  }
  countLayoutConversion();
  byElementWidth(t.dtype, [&](auto element) {
    transposeImages<decltype(element)>(t.storage->data, out.storage->data, change.images, change.rows, change.cols);
  });
  return out;
}

}  // namespace cr::cuda
