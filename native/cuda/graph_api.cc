// The graph (backend) API descriptor wrappers of graph_api.h.
#include "graph_api.h"

#include <algorithm>
#include <utility>

#include "../core/error.h"
#include "dynload.h"

namespace cr::cuda {
namespace {

void check(dnn::cudnnStatus_t status, const std::string& call) {
  checkCudnn(status, call.c_str(), __FILE__, __LINE__);
}

}  // namespace

std::string backendAttributeName(dnn::cudnnBackendAttributeName_t name) {
  switch (name) {
#define CR_ATTRIBUTE_CASE(attribute, value) \
  case dnn::attribute:                      \
    return #attribute;
    CR_CUDNN_BACKEND_ATTRIBUTE_NAME_VALUES(CR_ATTRIBUTE_CASE)
#undef CR_ATTRIBUTE_CASE
  }
  return "attribute " + std::to_string(static_cast<int>(name));
}

std::string backendDescriptorName(dnn::cudnnBackendDescriptorType_t type) {
  switch (type) {
#define CR_DESCRIPTOR_CASE(descriptor, value) \
  case dnn::descriptor:                       \
    return #descriptor;
    CR_CUDNN_BACKEND_DESCRIPTOR_TYPE_VALUES(CR_DESCRIPTOR_CASE)
#undef CR_DESCRIPTOR_CASE
  }
  return "descriptor type " + std::to_string(static_cast<int>(type));
}

BackendDesc::BackendDesc(dnn::cudnnBackendDescriptorType_t type) : type_(type) {
  check(dnn::cudnnBackendCreateDescriptor(type, &desc_),
        "cudnnBackendCreateDescriptor(" + backendDescriptorName(type) + ")");
}

BackendDesc::~BackendDesc() { reset(); }

BackendDesc::BackendDesc(BackendDesc&& other) noexcept
    : desc_(std::exchange(other.desc_, nullptr)), type_(other.type_) {}

BackendDesc& BackendDesc::operator=(BackendDesc&& other) noexcept {
  if (this != &other) {
    reset();
    desc_ = std::exchange(other.desc_, nullptr);
    type_ = other.type_;
  }
  return *this;
}

void BackendDesc::reset() {
  try {
    if (desc_ != nullptr) dnn::cudnnBackendDestroyDescriptor(desc_);
  } catch (...) {
  }
  desc_ = nullptr;
}

BackendDesc& BackendDesc::set(dnn::cudnnBackendAttributeName_t name, dnn::cudnnBackendAttributeType_t type,
                              int64_t count, const void* values) {
  check(dnn::cudnnBackendSetAttribute(desc_, name, type, count, values),
        "cudnnBackendSetAttribute(" + backendAttributeName(name) + " of " + backendDescriptorName(type_) + ")");
  return *this;
}

BackendDesc& BackendDesc::setInt64(dnn::cudnnBackendAttributeName_t name, int64_t value) {
  return set(name, dnn::CUDNN_TYPE_INT64, 1, &value);
}

BackendDesc& BackendDesc::setInt64s(dnn::cudnnBackendAttributeName_t name, const std::vector<int64_t>& values) {
  return set(name, dnn::CUDNN_TYPE_INT64, static_cast<int64_t>(values.size()), values.data());
}

BackendDesc& BackendDesc::setDataType(dnn::cudnnBackendAttributeName_t name, dnn::cudnnDataType_t value) {
  return set(name, dnn::CUDNN_TYPE_DATA_TYPE, 1, &value);
}

BackendDesc& BackendDesc::setBool(dnn::cudnnBackendAttributeName_t name, bool value) {
  return set(name, dnn::CUDNN_TYPE_BOOLEAN, 1, &value);
}

BackendDesc& BackendDesc::setFloat(dnn::cudnnBackendAttributeName_t name, float value) {
  return set(name, dnn::CUDNN_TYPE_FLOAT, 1, &value);
}

BackendDesc& BackendDesc::setHandle(dnn::cudnnBackendAttributeName_t name, dnn::cudnnHandle_t handle) {
  return set(name, dnn::CUDNN_TYPE_HANDLE, 1, &handle);
}

BackendDesc& BackendDesc::setPointers(dnn::cudnnBackendAttributeName_t name, const std::vector<void*>& pointers) {
  return set(name, dnn::CUDNN_TYPE_VOID_PTR, static_cast<int64_t>(pointers.size()), pointers.data());
}

BackendDesc& BackendDesc::setDesc(dnn::cudnnBackendAttributeName_t name, const BackendDesc& desc) {
  dnn::cudnnBackendDescriptor_t raw = desc.get();
  return set(name, dnn::CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
}

BackendDesc& BackendDesc::setDescs(dnn::cudnnBackendAttributeName_t name,
                                   const std::vector<const BackendDesc*>& descs) {
  std::vector<dnn::cudnnBackendDescriptor_t> raw;
  for (const BackendDesc* d : descs) raw.push_back(d->get());
  return set(name, dnn::CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw.size()), raw.data());
}

BackendDesc& BackendDesc::finalize() {
  check(tryFinalize(), "cudnnBackendFinalize(" + backendDescriptorName(type_) + ")");
  return *this;
}

dnn::cudnnStatus_t BackendDesc::tryFinalize() { return dnn::cudnnBackendFinalize(desc_); }

int64_t BackendDesc::getInt64(dnn::cudnnBackendAttributeName_t name) const {
  int64_t value = 0, count = 0;
  check(dnn::cudnnBackendGetAttribute(desc_, name, dnn::CUDNN_TYPE_INT64, 1, &count, &value),
        "cudnnBackendGetAttribute(" + backendAttributeName(name) + " of " + backendDescriptorName(type_) + ")");
  return value;
}

BackendDesc tensorDesc(int64_t uid, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides,
                       dnn::cudnnDataType_t dtype, bool isVirtual) {
  BackendDesc t(dnn::CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.setDataType(dnn::CUDNN_ATTR_TENSOR_DATA_TYPE, dtype)
      .setInt64s(dnn::CUDNN_ATTR_TENSOR_DIMENSIONS, dims)
      .setInt64s(dnn::CUDNN_ATTR_TENSOR_STRIDES, strides)
      .setInt64(dnn::CUDNN_ATTR_TENSOR_UNIQUE_ID, uid)
      .setInt64(dnn::CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 16)
      .setBool(dnn::CUDNN_ATTR_TENSOR_IS_VIRTUAL, isVirtual)
      .finalize();
  return t;
}

std::vector<int64_t> nhwcStrides(const std::vector<int64_t>& nchw) {
  const int64_t c = nchw[1], h = nchw[2], w = nchw[3];
  return {h * w * c, 1, w * c, c};
}

std::vector<BackendDesc> engineConfigs(const BackendDesc& operationGraph, dnn::cudnnBackendHeurMode_t mode) {
  BackendDesc heuristics(dnn::CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heuristics.setDesc(dnn::CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, operationGraph)
      .setEnum(dnn::CUDNN_ATTR_ENGINEHEUR_MODE, dnn::CUDNN_TYPE_HEUR_MODE, mode)
      .finalize();
  const std::string call = "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINEHEUR_RESULTS)";
  int64_t available = 0;
  check(dnn::cudnnBackendGetAttribute(heuristics.get(), dnn::CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                      dnn::CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available, nullptr),
        call);
  std::vector<BackendDesc> configs;
  std::vector<dnn::cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < available; ++i) {
    configs.emplace_back(dnn::CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(configs.back().get());
  }
  if (available == 0) return configs;
  int64_t returned = 0;
  check(dnn::cudnnBackendGetAttribute(heuristics.get(), dnn::CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                      dnn::CUDNN_TYPE_BACKEND_DESCRIPTOR, available, &returned, raw.data()),
        call);
  configs.erase(configs.begin() + std::clamp<int64_t>(returned, 0, available), configs.end());
  return configs;
}

bool nondeterministic(const BackendDesc& engineConfig) {
  BackendDesc engine(dnn::CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  dnn::cudnnBackendDescriptor_t raw = engine.get();
  int64_t count = 0;
  check(dnn::cudnnBackendGetAttribute(engineConfig.get(), dnn::CUDNN_ATTR_ENGINECFG_ENGINE,
                                      dnn::CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &raw),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINECFG_ENGINE)");
  // Read as int32: a newer cuDNN may report notes this build has no enumerator for.
  static_assert(sizeof(int32_t) == sizeof(dnn::cudnnBackendNumericalNote_t), "numerical notes are 32-bit enums");
  std::vector<int32_t> notes(static_cast<size_t>(kMaxNumericalNotes));
  check(dnn::cudnnBackendGetAttribute(engine.get(), dnn::CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                      dnn::CUDNN_TYPE_NUMERICAL_NOTE, kMaxNumericalNotes, &count, notes.data()),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE)");
  notes.resize(static_cast<size_t>(std::clamp<int64_t>(count, 0, kMaxNumericalNotes)));
  return std::find(notes.begin(), notes.end(), static_cast<int32_t>(dnn::CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC)) !=
         notes.end();
}

}  // namespace cr::cuda
