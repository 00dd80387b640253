// The run-time loader of cuDNN 9 and cuBLAS 13 (search order and rules in dynload.h), the
// version checks, and the status checks behind CR_CUDNN_CHECK / CR_CUBLAS_CHECK.
#include "dynload.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>

#include <cuda_runtime_api.h>

#include "../core/error.h"

namespace cr::cuda {
namespace {

// ---- cuDNN ----

// "12.8" for a CUDA version number 12080 (MAJOR * 1000 + MINOR * 10).
std::string cudaVersionText(int number) { return std::to_string(number / 1000) + "." + std::to_string(number % 1000 / 10); }

std::string checkCudnnVersion(void* library, const std::string& path, LibraryInfo& info) {
  auto getVersion = reinterpret_cast<size_t (*)()>(dlsym(library, "cudnnGetVersion"));
  setVersionFromCode(info, static_cast<int64_t>(getVersion()));
  const int64_t major = info.versionNumber / 10000;
  if (major < 9) return "cuDNN " + info.version + " at " + path + " is too old: cuDNN 9 is required";
  if (major > 9) return "cuDNN " + info.version + " at " + path + " is newer than this build supports: cuDNN 9 is required";
  // A cuDNN 9 built for another CUDA major (cuDNN ships one build per CUDA major) loads, but its
  // sub-libraries fail at the first convolution: refuse it here, saying what was found.
  auto getCudart = reinterpret_cast<size_t (*)()>(dlsym(library, "cudnnGetCudartVersion"));
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) {
    cudaGetLastError();
    info.builtForCuda = cudaVersionText(static_cast<int>(getCudart()));
    return "";
  }
  const auto built = static_cast<int>(getCudart());
  info.builtForCuda = cudaVersionText(built);
  return cudartMismatch(info.version, path, built, runtime);
}

LibrarySpec cudnnSpec() {
  LibrarySpec spec;
  spec.title = "cuDNN";
  spec.soname = "libcudnn.so.9";
  spec.envVariable = "CUDNN_RESNET_CUDNN_PATH";
  // cuDNN 9's sub-libraries, in dependency order: libcudnn.so.9 is a shim that loads them.
  spec.companions = {"libcudnn_graph.so.9",
                     "libcudnn_engines_precompiled.so.9",
                     "libcudnn_engines_runtime_compiled.so.9",
                     "libcudnn_heuristic.so.9",
                     "libcudnn_ops.so.9",
                     "libcudnn_cnn.so.9",
                     "libcudnn_adv.so.9"};
  spec.wheelFolders = {"nvidia/cudnn/lib", "nvidia/cu13/lib"};
  spec.bind = detail::bindCudnnSymbols;
  spec.unbind = detail::unbindCudnnSymbols;
  spec.checkVersion = checkCudnnVersion;
  return spec;
}

// ---- cuBLAS ----

std::string checkCublasVersion(void* library, const std::string& path, LibraryInfo& info) {
  using GetProperty = blas::cublasStatus_t (*)(libraryPropertyType, int*);
  auto getProperty = reinterpret_cast<GetProperty>(dlsym(library, "cublasGetProperty"));
  int major = 0, minor = 0, patch = 0;
  if (getProperty(MAJOR_VERSION, &major) != blas::CUBLAS_STATUS_SUCCESS ||
      getProperty(MINOR_VERSION, &minor) != blas::CUBLAS_STATUS_SUCCESS ||
      getProperty(PATCH_LEVEL, &patch) != blas::CUBLAS_STATUS_SUCCESS) {
    return "cublasGetProperty failed for " + path;
  }
  setVersion(info, major, minor, patch);
  if (major < 13) return "cuBLAS " + info.version + " at " + path + " is too old: cuBLAS 13 or newer is required";
  return "";
}

LibrarySpec cublasSpec() {
  LibrarySpec spec;
  spec.title = "cuBLAS";
  spec.soname = "libcublas.so.13";
  spec.envVariable = "CUDNN_RESNET_CUBLAS_PATH";
  spec.companions = {"libcublasLt.so.13"};
  spec.loaderCompanions = {"libcublasLt.so.13"};
  spec.wheelFolders = {"nvidia/cu13/lib", "nvidia/cublas/lib"};
  spec.bind = detail::bindCublasSymbols;
  spec.unbind = detail::unbindCublasSymbols;
  spec.checkVersion = checkCublasVersion;
  return spec;
}

std::string describe(const char* title, const LibraryInfo& info) {
  std::string text = std::string(title) + ": ";
  text += info.loaded ? info.version + " loaded from " + info.path : "not loaded: " + info.reason;
  text += "\n";
  for (const std::string& place : info.searched) text += "  looked in " + place + "\n";
  return text;
}

}  // namespace

std::string cudartMismatch(const std::string& cudnnVersion, const std::string& path, int builtFor, int runtime) {
  if (builtFor / 1000 == runtime / 1000) return "";
  return "cuDNN " + cudnnVersion + " at " + path + " is built for CUDA " + cudaVersionText(builtFor) +
         ", but this addon runs the CUDA " + cudaVersionText(runtime) + " runtime: a cuDNN 9 built for CUDA " +
         std::to_string(runtime / 1000) + " is required (pip: nvidia-cudnn-cu" + std::to_string(runtime / 1000) + ")";
}

// The results live as long as the process (never destroyed, so a call made while other static
// objects are being destroyed still finds them).
const LibraryInfo& cublasLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] { info = loadLibrary(cublasSpec()); });
  return info;
}

const LibraryInfo& cudnnLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] {
    // cuDNN's engines use cuBLASLt: with cuBLAS (and cuBLASLt) loaded first, cuDNN's
    // sub-libraries find them already in the process. cuBLAS is optional here.
    cublasLibrary();
    info = loadLibrary(cudnnSpec());
  });
  return info;
}

void requireCudnn() {
  const LibraryInfo& info = cudnnLibrary();
  CR_CHECK(info.loaded, "cuDNN is not available: ", info.reason);
}

void requireCublas() {
  const LibraryInfo& info = cublasLibrary();
  CR_CHECK(info.loaded, "cuBLAS is not available: ", info.reason);
}

std::string describeLibraries() { return describe("cuDNN", cudnnLibrary()) + describe("cuBLAS", cublasLibrary()); }

// ---- Status names and checks ----

std::string cudnnStatusName(dnn::cudnnStatus_t status) {
  switch (status) {
#define CR_DNN_STATUS_CASE(name, value) \
  case dnn::name:                       \
    return #name;
    CR_CUDNN_STATUS_VALUES(CR_DNN_STATUS_CASE)
    CR_CUDNN_STATUS_VALUES_SINCE_9_18(CR_DNN_STATUS_CASE)
#undef CR_DNN_STATUS_CASE
    default:
      break;
  }
  // A code newer than this list: cuDNN 9 groups codes in categories of a thousand.
  const int code = static_cast<int>(status);
  const int category = code / 1000 * 1000;
  if (category >= 2000 && category <= 5000 && category != code) {
    return cudnnStatusName(static_cast<dnn::cudnnStatus_t>(category)) + " sub-code " + std::to_string(code);
  }
  return "cuDNN status " + std::to_string(code);
}

std::string cublasStatusName(blas::cublasStatus_t status) {
  switch (status) {
#define CR_BLAS_STATUS_CASE(name, value) \
  case blas::name:                       \
    return #name;
    CR_CUBLAS_STATUS_VALUES(CR_BLAS_STATUS_CASE)
#undef CR_BLAS_STATUS_CASE
    default:
      return "cuBLAS status " + std::to_string(static_cast<int>(status));
  }
}

void checkCudnn(dnn::cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == dnn::CUDNN_STATUS_SUCCESS) return;
  std::string details;
  if (cudnnLibrary().loaded) {
    const char* text = dnn::cudnnGetErrorString(status);
    if (text != nullptr) details = text;
    char last[2048] = {0};
    dnn::cudnnGetLastErrorString(last, sizeof(last));
    std::string lastText(last, strnlen(last, sizeof(last)));
    while (!lastText.empty() && (lastText.back() == '\n' || lastText.back() == ' ')) lastText.pop_back();
    if (!lastText.empty()) details += (details.empty() ? "" : "; ") + lastText;
  }
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: ", cudnnStatusName(status),
                     details.empty() ? "" : " (" + details + ")");
}

void checkCublas(blas::cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == blas::CUBLAS_STATUS_SUCCESS) return;
  std::string details;
  if (cublasLibrary().loaded) {
    const char* text = blas::cublasGetStatusString(status);
    if (text != nullptr) details = text;
  }
  std::string name = cublasStatusName(status);
  if (name.rfind("CUBLAS_STATUS_", 0) != 0 && cublasLibrary().loaded) {
    const char* libraryName = blas::cublasGetStatusName(status);
    if (libraryName != nullptr) name = libraryName;
  }
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: ", name, details.empty() ? "" : " (" + details + ")");
}

namespace detail {

void ensureCudnnCallable(const char* function) {
  const LibraryInfo& info = cudnnLibrary();
  CR_CHECK(info.loaded, function, " cannot be called: cuDNN is not available: ", info.reason);
}

void ensureCublasCallable(const char* function) {
  const LibraryInfo& info = cublasLibrary();
  CR_CHECK(info.loaded, function, " cannot be called: cuBLAS is not available: ", info.reason);
}

}  // namespace detail

}  // namespace cr::cuda
