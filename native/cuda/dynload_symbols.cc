// The definitions of the functions declared in cudnn_api.h and cublas_api.h: each is a trampoline
// that calls the function of the same name resolved from the loaded library, or throws cr::Error
// naming the function when the library could not be loaded. The tables of function pointers are
// filled once by the loader (dynload.cc), all symbols at once, before the library counts as
// loaded; the trampolines read them only after cudnnLibrary() / cublasLibrary() has said so.
// Declared functions that no op calls yet are optional: a library without them still loads, and
// calling one then throws (cudnnHasFunction says beforehand).
#include <dlfcn.h>

#include <cstring>
#include <string>
#include <vector>

#include "../core/error.h"
#include "dynload.h"

namespace cr::dnn {
namespace {

struct CudnnTable {
#define CR_DNN_POINTER(ret, name, params, args) ret(*name) params = nullptr;
  CR_CUDNN_FUNCTIONS(CR_DNN_POINTER)
#undef CR_DNN_POINTER
};
CudnnTable table;

}  // namespace

#define CR_DNN_TRAMPOLINE(ret, name, params, args)                                   \
  ret name params {                                                                  \
    ::cr::cuda::detail::ensureCudnnCallable(#name);                                  \
    CR_CHECK(table.name != nullptr, #name " is not in the loaded cuDNN library");    \
    return table.name args;                                                          \
  }
CR_CUDNN_FUNCTIONS(CR_DNN_TRAMPOLINE)
#undef CR_DNN_TRAMPOLINE

}  // namespace cr::dnn

namespace cr::blas {
namespace {

struct CublasTable {
#define CR_BLAS_POINTER(ret, name, params, args) ret(*name) params = nullptr;
  CR_CUBLAS_FUNCTIONS(CR_BLAS_POINTER)
#undef CR_BLAS_POINTER
};
CublasTable table;

}  // namespace

#define CR_BLAS_TRAMPOLINE(ret, name, params, args)                                  \
  ret name params {                                                                  \
    ::cr::cuda::detail::ensureCublasCallable(#name);                                 \
    CR_CHECK(table.name != nullptr, #name " is not in the loaded cuBLAS library");   \
    return table.name args;                                                          \
  }
CR_CUBLAS_FUNCTIONS(CR_BLAS_TRAMPOLINE)
#undef CR_BLAS_TRAMPOLINE

}  // namespace cr::blas

namespace cr::cuda::detail {

// Declared for later use (the batch-norm "Ex" and activation API, workspace-size queries, batched
// GEMM ...) but called by no op yet, or called only by an op that falls back to another path
// without them (the graph API of the fused convolution): their absence does not make a library
// unusable.
const char* const kOptionalSymbols[] = {
    "cudnnGetCudartVersion", "cudnnSetTensor4dDescriptorEx", "cudnnGetConvolutionBackwardDataWorkspaceSize",
    "cudnnGetConvolutionBackwardFilterWorkspaceSize", "cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize",
    "cudnnGetBatchNormalizationBackwardExWorkspaceSize", "cudnnGetBatchNormalizationTrainingExReserveSpaceSize",
    "cudnnBatchNormalizationForwardTrainingEx", "cudnnBatchNormalizationBackwardEx", "cublasGetVersion_v2",
    "cublasSetWorkspace_v2", "cublasSgemmStridedBatched", "cudnnBackendCreateDescriptor",
    "cudnnBackendDestroyDescriptor", "cudnnBackendFinalize", "cudnnBackendSetAttribute", "cudnnBackendGetAttribute",
    "cudnnBackendExecute",
};

bool optionalSymbol(const char* name) {
  for (const char* optional : kOptionalSymbols)
    if (std::strcmp(optional, name) == 0) return true;
  return false;
}

// Looks up one symbol into a table slot; records its name when a required one is missing.
template <typename Fn>
void resolve(void* library, const char* name, Fn& slot, std::vector<std::string>& missing) {
  void* address = dlsym(library, name);
  if (address == nullptr) {
    if (!optionalSymbol(name)) missing.emplace_back(name);
    return;
  }
  slot = reinterpret_cast<Fn>(address);
}

std::vector<std::string> bindCudnnSymbols(void* library) {
  dnn::CudnnTable resolved;
  std::vector<std::string> missing;
#define CR_DNN_RESOLVE(ret, name, params, args) resolve(library, #name, resolved.name, missing);
  CR_CUDNN_FUNCTIONS(CR_DNN_RESOLVE)
#undef CR_DNN_RESOLVE
  if (missing.empty()) dnn::table = resolved;
  return missing;
}

std::vector<std::string> bindCublasSymbols(void* library) {
  blas::CublasTable resolved;
  std::vector<std::string> missing;
#define CR_BLAS_RESOLVE(ret, name, params, args) resolve(library, #name, resolved.name, missing);
  CR_CUBLAS_FUNCTIONS(CR_BLAS_RESOLVE)
#undef CR_BLAS_RESOLVE
  if (missing.empty()) blas::table = resolved;
  return missing;
}

void unbindCudnnSymbols() { dnn::table = dnn::CudnnTable{}; }
void unbindCublasSymbols() { blas::table = blas::CublasTable{}; }

}  // namespace cr::cuda::detail

namespace cr::cuda {

bool cudnnHasFunction(const char* name) {
  if (!cudnnLibrary().loaded) return false;
#define CR_DNN_HAS(ret, function, params, args) \
  if (std::strcmp(name, #function) == 0) return dnn::table.function != nullptr;
  CR_CUDNN_FUNCTIONS(CR_DNN_HAS)
#undef CR_DNN_HAS
  return false;
}

}  // namespace cr::cuda
