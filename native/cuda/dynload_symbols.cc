// The definitions of the functions declared in cudnn_api.h and cublas_api.h: each is a trampoline
// that calls the function of the same name resolved from the loaded library, or throws cr::Error
// naming the function when the library could not be loaded. The tables of function pointers are
// filled once by the loader (dynload.cc), all symbols at once, before the library counts as
// loaded; the trampolines read them only after cudnnLibrary() / cublasLibrary() has said so.
#include <dlfcn.h>

#include <string>
#include <vector>

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

#define CR_DNN_TRAMPOLINE(ret, name, params, args)   \
  ret name params {                                  \
    ::cr::cuda::detail::ensureCudnnCallable(#name);  \
    return table.name args;                          \
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

#define CR_BLAS_TRAMPOLINE(ret, name, params, args)   \
  ret name params {                                   \
    ::cr::cuda::detail::ensureCublasCallable(#name);  \
    return table.name args;                           \
  }
CR_CUBLAS_FUNCTIONS(CR_BLAS_TRAMPOLINE)
#undef CR_BLAS_TRAMPOLINE

}  // namespace cr::blas

namespace cr::cuda::detail {

// Looks up one symbol into a table slot; records its name when it is missing.
template <typename Fn>
void resolve(void* library, const char* name, Fn& slot, std::vector<std::string>& missing) {
  void* address = dlsym(library, name);
  if (address == nullptr) {
    missing.emplace_back(name);
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
