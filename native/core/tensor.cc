#include "tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "error.h"
#include "format_change.h"
#include "parallel.h"

namespace cr {
namespace {

std::atomic<int64_t> gLiveStorages{0}, gLiveBytes{0}, gPeakBytes{0}, gLiveTensors{0}, gLayoutConversions{0};
Allocator* gDeviceAllocators[2] = {nullptr, nullptr};

Allocator& allocatorFor(Device d) {
  if (d == Device::CPU) return cpuAllocator();
  Allocator* a = gDeviceAllocators[static_cast<int>(d)];
  CR_CHECK(a != nullptr, "CUDA storage requested, but this build of the addon has no CUDA part");
  return *a;
}

}  // namespace

MemoryStats memoryStats() {
  return {gLiveStorages.load(), gLiveBytes.load(), gPeakBytes.load(), gLiveTensors.load(),
          static_cast<int64_t>(cpuCachedBytes()), gLayoutConversions.load()};
}
void countTensor(int delta) { gLiveTensors += delta; }
void countLayoutConversion() { ++gLayoutConversions; }

void registerDeviceAllocator(Device device, Allocator* allocator) {
  gDeviceAllocators[static_cast<int>(device)] = allocator;
}

Storage::Storage(size_t n, Device d) : bytes(n), device(d) {
  data = allocatorFor(d).allocate(n);
  ++gLiveStorages;
  int64_t live = gLiveBytes += static_cast<int64_t>(n);
  int64_t peak = gPeakBytes.load();
  while (live > peak && !gPeakBytes.compare_exchange_weak(peak, live)) {}
}

Storage::~Storage() {
  allocatorFor(device).release(data, bytes);
  --gLiveStorages;
  gLiveBytes -= static_cast<int64_t>(bytes);
}

int64_t numelOf(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

int64_t Tensor::numel() const { return numelOf(shape); }

std::string shapeString(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

Tensor empty(const Shape& shape, DType dtype, MemoryFormat format) {
  return emptyOn(Device::CPU, shape, dtype, format);
}

Tensor emptyOn(Device device, const Shape& shape, DType dtype, MemoryFormat format) {
  for (int64_t s : shape) CR_CHECK_RANGE(s >= 0, "negative dimension in shape ", shapeString(shape));
  CR_CHECK_TYPE(format == MemoryFormat::Contiguous || shape.size() == 4,
                "channelsLast needs a 4-D tensor, got shape ", shapeString(shape));
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.format = format;
  t.device = device;
  t.storage = std::make_shared<Storage>(static_cast<size_t>(numelOf(shape)) * dtypeSize(dtype), device);
  return t;
}

Tensor zeros(const Shape& shape, DType dtype, MemoryFormat format) {
  Tensor t = empty(shape, dtype, format);
  std::memset(t.storage->data, 0, t.nbytes());
  return t;
}

Tensor view(const Tensor& t, const Shape& shape) {
  CR_CHECK_TYPE(t.format == MemoryFormat::Contiguous, "view: a channelsLast tensor must be made contiguous first");
  CR_CHECK_RANGE(numelOf(shape) == t.numel(), "view: cannot view a tensor of shape ", shapeString(t.shape),
                 " as ", shapeString(shape), " (element counts differ)");
  Tensor out = t;
  out.shape = shape;
  return out;
}

namespace {

// dst (cols, rows) = src (rows, cols)^T for one image, in 32x32 tiles so that both sides are
// read and written a cache line at a time.
template <typename Element>
void transposePlane(const Element* src, Element* dst, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
    }
}

template <typename Element>
void transposeImages(const void* src, void* dst, int64_t images, int64_t rows, int64_t cols) {
  const Element* s = static_cast<const Element*>(src);
  Element* d = static_cast<Element*>(dst);
  int64_t plane = rows * cols;
  parallelFor(0, images, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) transposePlane(s + i * plane, d + i * plane, rows, cols);
  });
}

}  // namespace

Tensor toFormat(const Tensor& t, MemoryFormat format) {
  expectCPU("toFormat", "the tensor", t);
  Tensor out = empty(t.shape, t.dtype, format);
  FormatChange change = formatChange(t, format);
  if (change.copy) {
    std::memcpy(out.storage->data, t.storage->data, t.nbytes());
    return out;
  }
  countLayoutConversion();
  byElementWidth(t.dtype, [&](auto element) {
    transposeImages<decltype(element)>(t.storage->data, out.storage->data, change.images, change.rows, change.cols);
  });
  return out;
}

Tensor contiguous(const Tensor& t) {
  return t.format == MemoryFormat::Contiguous ? t : toFormat(t, MemoryFormat::Contiguous);
}

Tensor clone(const Tensor& t) { return toFormat(t, t.format); }

namespace {
template <typename T>
float loadAsFloat(const void* p, int64_t i) { return static_cast<float>(static_cast<const T*>(p)[i]); }
}  // namespace

Tensor cast(const Tensor& t, DType dtype) {
  expectCPU("cast", "the tensor", t);
  Tensor out = empty(t.shape, dtype, t.format);
  int64_t n = t.numel();
  const void* src = t.storage->data;
  void* dst = out.storage->data;
  DType from = t.dtype;
  bool integral = (from == DType::Int32 || from == DType::Int64 || from == DType::UInt8) &&
                  (dtype == DType::Int32 || dtype == DType::Int64 || dtype == DType::UInt8);
  parallelFor(0, n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (integral) {
        int64_t v = from == DType::Int32 ? static_cast<const int32_t*>(src)[i]
                  : from == DType::Int64 ? static_cast<const int64_t*>(src)[i]
                                         : static_cast<const uint8_t*>(src)[i];
        if (dtype == DType::Int32) static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(v);
        else if (dtype == DType::Int64) static_cast<int64_t*>(dst)[i] = v;
        else static_cast<uint8_t*>(dst)[i] = static_cast<uint8_t>(v);
        continue;
      }
      float v = 0;
      switch (from) {
        case DType::Float32: v = static_cast<const float*>(src)[i]; break;
        case DType::Float16: v = halfToFloat(static_cast<const uint16_t*>(src)[i]); break;
        case DType::BFloat16: v = bfloat16ToFloat(static_cast<const uint16_t*>(src)[i]); break;
        case DType::Int32: v = loadAsFloat<int32_t>(src, i); break;
        case DType::Int64: v = loadAsFloat<int64_t>(src, i); break;
        case DType::UInt8: v = loadAsFloat<uint8_t>(src, i); break;
      }
      switch (dtype) {
        case DType::Float32: static_cast<float*>(dst)[i] = v; break;
        case DType::Float16: static_cast<uint16_t*>(dst)[i] = floatToHalf(v); break;
        case DType::BFloat16: static_cast<uint16_t*>(dst)[i] = floatToBFloat16(v); break;
        case DType::Int32: static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(v); break;
        case DType::Int64: static_cast<int64_t*>(dst)[i] = static_cast<int64_t>(v); break;
        case DType::UInt8: static_cast<uint8_t*>(dst)[i] = static_cast<uint8_t>(v); break;
      }
    }
  });
  return out;
}

void expectFloat32(const char* op, const char* arg, const Tensor& t) { expectFloat32On(Device::CPU, op, arg, t); }
void expectFloat32On(Device device, const char* op, const char* arg, const Tensor& t) {
  CR_CHECK_TYPE(t.dtype == DType::Float32, op, ": ", arg, " must be float32, got ", dtypeName(t.dtype));
  CR_CHECK_TYPE(t.device == device, op, ": ", arg, device == Device::CPU ? " must be on the CPU" : " must be on the GPU");
}
void expectDim(const char* op, const char* arg, const Tensor& t, int64_t dim) {
  CR_CHECK_RANGE(t.dim() == dim, op, ": ", arg, " must be ", dim, "-D, got shape ", shapeString(t.shape));
}
void expectShape(const char* op, const char* arg, const Tensor& t, const Shape& shape) {
  CR_CHECK_RANGE(t.shape == shape, op, ": ", arg, " must have shape ", shapeString(shape), ", got ",
                 shapeString(t.shape));
}
void expectCPU(const char* op, const char* arg, const Tensor& t) {
  CR_CHECK_TYPE(t.device == Device::CPU, op, ": ", arg, " must be on the CPU");
}

}  // namespace cr
