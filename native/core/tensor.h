// Tensor storage: a reference-counted buffer on one device, and a tensor = storage +
// dtype + shape + memory format. Shapes are logical (N, C, H, W order for 4-D tensors);
// a channelsLast 4-D tensor stores its elements in (N, H, W, C) order.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dtype.h"

namespace cr {

using Shape = std::vector<int64_t>;

// Allocates and frees raw memory of one device; CPU memory is 64-byte aligned.
struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr, size_t bytes) = 0;
};
// The caching CPU allocator (cpu_allocator.cc): bytes it holds for reuse, and releasing them.
Allocator& cpuAllocator();
size_t cpuCachedBytes();
void cpuEmptyCache();
// The allocator of device memory; registered by the CUDA part when the addon has one.
// Storage on a device without an allocator is an error that says so.
void registerDeviceAllocator(Device device, Allocator* allocator);

struct MemoryStats {  // storages of every device
  int64_t liveStorages;
  int64_t liveBytes;
  int64_t peakBytes;
  int64_t liveTensors;
  int64_t cachedBytes;  // freed CPU blocks kept for reuse (not in liveBytes)
  int64_t layoutConversions;  // NCHW <-> NHWC transposes of 4-D tensors made by toFormat, on any device
};
MemoryStats memoryStats();
void countTensor(int delta);
void countLayoutConversion();

struct Storage {
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  // Moves on every in-place write: each op handed a tensor to write into goes through
  // TensorWrap::GetMutable, which advances it. What is derived from the contents stays valid while
  // it does not move (derivedFrom).
  std::atomic<uint64_t> version{0};
  // Values derived from the contents (a convolution's packed weights for the forward pass and
  // transposed for the backward one), each with its key and the version it was made at.
  struct Derived {
    std::string key;
    uint64_t version;
    std::shared_ptr<const void> value;
  };
  std::mutex derivedMutex;
  std::vector<Derived> derived;
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::Float32;
  Shape shape;
  MemoryFormat format = MemoryFormat::Contiguous;
  Device device = Device::CPU;

  int64_t numel() const;
  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t size(int64_t d) const { return shape[d < 0 ? d + dim() : d]; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype); }
  template <typename T> T* data() const { return static_cast<T*>(storage->data); }
  float* f32() const { return data<float>(); }
};

int64_t numelOf(const Shape& shape);
std::string shapeString(const Shape& shape);
// New uninitialised CPU tensor.
Tensor empty(const Shape& shape, DType dtype = DType::Float32, MemoryFormat format = MemoryFormat::Contiguous);
// New uninitialised tensor on `device`.
Tensor emptyOn(Device device, const Shape& shape, DType dtype, MemoryFormat format);
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, MemoryFormat format = MemoryFormat::Contiguous);
// Same storage, new shape (element count must match; the tensor must be contiguous).
Tensor view(const Tensor& t, const Shape& shape);
// A copy in the requested memory format (a copy even when the format is unchanged).
Tensor toFormat(const Tensor& t, MemoryFormat format);
// The tensor itself when already contiguous, otherwise a contiguous copy.
Tensor contiguous(const Tensor& t);
// Element type conversion (copy); float16 / bfloat16 round to nearest even.
Tensor cast(const Tensor& t, DType dtype);
Tensor clone(const Tensor& t);

// The value make() derives from t's contents, kept with t's storage under `key` (what was derived
// and how: layout, instruction set) and made again only when the key changes or the storage was
// written in place since (Storage::version).
// Values of other keys made at an older version are dropped then. Keys name what T is.
template <class T, class Make>
std::shared_ptr<const T> derivedFrom(const Tensor& t, const std::string& key, const Make& make) {
  Storage& s = *t.storage;
  std::lock_guard<std::mutex> lock(s.derivedMutex);
  const uint64_t version = s.version.load();
  for (const Storage::Derived& d : s.derived)
    if (d.key == key && d.version == version) return std::static_pointer_cast<const T>(d.value);
  std::shared_ptr<const T> value = make();
  std::vector<Storage::Derived> kept;
  for (Storage::Derived& d : s.derived)
    if (d.key != key && d.version == version) kept.push_back(std::move(d));
  kept.push_back({key, version, value});
  s.derived = std::move(kept);
  return value;
}

// Argument checks used by every op; they throw TypeError naming the op.
void expectFloat32(const char* op, const char* arg, const Tensor& t);
void expectDim(const char* op, const char* arg, const Tensor& t, int64_t dim);
void expectShape(const char* op, const char* arg, const Tensor& t, const Shape& shape);
void expectCPU(const char* op, const char* arg, const Tensor& t);
// float32 on `device` ("must be on the CPU" / "must be on the GPU"); the checks shared by an op
// and its CUDA twin take the device.
void expectFloat32On(Device device, const char* op, const char* arg, const Tensor& t);

}  // namespace cr
