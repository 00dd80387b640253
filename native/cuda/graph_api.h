// RAII wrappers of cuDNN graph (backend) API descriptors (cudnn_api.h): a descriptor is created
// with its object and destroyed with it; typed setters check every cudnnBackendSetAttribute and name
// the attribute and descriptor in the error. Host code only; nothing here touches device memory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cudnn_api.h"

namespace cr::cuda {

// The most numerical notes one engine is asked for (the enum grows between cuDNN versions).
constexpr int64_t kMaxNumericalNotes = 32;

// "CUDNN_ATTR_TENSOR_STRIDES" for the declared attributes, "attribute 903" for any other value.
std::string backendAttributeName(dnn::cudnnBackendAttributeName_t name);
std::string backendDescriptorName(dnn::cudnnBackendDescriptorType_t type);

class BackendDesc {
 public:
  BackendDesc() = default;  // holds nothing
  explicit BackendDesc(dnn::cudnnBackendDescriptorType_t type);
  ~BackendDesc();
  BackendDesc(BackendDesc&& other) noexcept;
  BackendDesc& operator=(BackendDesc&& other) noexcept;
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;

  dnn::cudnnBackendDescriptor_t get() const { return desc_; }

  // Each throws cr::Error "cudnnBackendSetAttribute(<ATTRIBUTE> of <descriptor>) failed: ...".
  BackendDesc& set(dnn::cudnnBackendAttributeName_t name, dnn::cudnnBackendAttributeType_t type, int64_t count,
                   const void* values);
  BackendDesc& setInt64(dnn::cudnnBackendAttributeName_t name, int64_t value);
  BackendDesc& setInt64s(dnn::cudnnBackendAttributeName_t name, const std::vector<int64_t>& values);
  BackendDesc& setDataType(dnn::cudnnBackendAttributeName_t name, dnn::cudnnDataType_t value);
  BackendDesc& setBool(dnn::cudnnBackendAttributeName_t name, bool value);
  BackendDesc& setFloat(dnn::cudnnBackendAttributeName_t name, float value);
  BackendDesc& setHandle(dnn::cudnnBackendAttributeName_t name, dnn::cudnnHandle_t handle);
  BackendDesc& setPointers(dnn::cudnnBackendAttributeName_t name, const std::vector<void*>& pointers);
  BackendDesc& setDesc(dnn::cudnnBackendAttributeName_t name, const BackendDesc& desc);
  BackendDesc& setDescs(dnn::cudnnBackendAttributeName_t name, const std::vector<const BackendDesc*>& descs);
  // Enumerators passed by value (pointwise mode, heuristic mode, convolution mode ...).
  template <typename Enum>
  BackendDesc& setEnum(dnn::cudnnBackendAttributeName_t name, dnn::cudnnBackendAttributeType_t type, Enum value) {
    return set(name, type, 1, &value);
  }

  // Throws cr::Error "cudnnBackendFinalize(<descriptor>) failed: ..." unless it succeeds.
  BackendDesc& finalize();
  // The status of cudnnBackendFinalize, for callers that try several configurations.
  dnn::cudnnStatus_t tryFinalize();

  // cudnnBackendGetAttribute of one int64 value (a workspace size ...).
  int64_t getInt64(dnn::cudnnBackendAttributeName_t name) const;

 private:
  void reset();
  dnn::cudnnBackendDescriptor_t desc_ = nullptr;
  dnn::cudnnBackendDescriptorType_t type_ = dnn::CUDNN_BACKEND_POINTWISE_DESCRIPTOR;
};

// A finalized CUDNN_BACKEND_TENSOR_DESCRIPTOR: dims and strides (outermost first), dtype, unique id,
// 16-byte alignment; virtual tensors are intermediates that never reach memory.
BackendDesc tensorDesc(int64_t uid, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides,
                       dnn::cudnnDataType_t dtype, bool isVirtual);
// Packed strides of a (N, C, H, W) tensor stored (N, H, W, C): [H*W*C, 1, W*C, C].
std::vector<int64_t> nhwcStrides(const std::vector<int64_t>& nchw);

// The engine configurations cuDNN's heuristics of `mode` propose for a finalized operation graph,
// best first (empty when none).
std::vector<BackendDesc> engineConfigs(const BackendDesc& operationGraph, dnn::cudnnBackendHeurMode_t mode);
// True when the configuration's engine carries CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC.
bool nondeterministic(const BackendDesc& engineConfig);

}  // namespace cr::cuda
