// Run-time loading of cuDNN 9 and cuBLAS 13 with dlopen, and the status checks of their calls.
//
// Where each library is looked for, in this order (the first usable copy wins):
//   1. the environment variable CUDNN_RESNET_CUDNN_PATH / CUDNN_RESNET_CUBLAS_PATH: the library
//      file itself, or a folder that holds it;
//   2. the normal loader path: dlopen("libcudnn.so.9") / dlopen("libcublas.so.13");
//   3. the folders where NVIDIA's pip wheels put them, inside every Python site-packages folder
//      found ($PYTHONPATH, $VIRTUAL_ENV, $CONDA_PREFIX, beside each python3 on $PATH, pyenv,
//      /usr/local/lib, /usr/lib, ~/.local): nvidia/cudnn/lib and nvidia/cu13/lib for cuDNN,
//      nvidia/cu13/lib and nvidia/cublas/lib for cuBLAS.
// A copy is usable when dlopen succeeds, every function of cudnn_api.h / cublas_api.h resolves
// and the version fits (cuDNN major 9 built for this addon's CUDA runtime major, cuBLAS major 13
// or newer). Loading from a folder first
// loads the libraries the main one needs from that same folder (cuDNN's sub-libraries, cuBLASLt),
// so nothing has to be put on LD_LIBRARY_PATH.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/library_search.h"
#include "cublas_api.h"
#include "cudnn_api.h"

namespace cr::cuda {

using ::cr::LibraryInfo;


// The first call loads the library (thread-safe, once per process); never throws.
const LibraryInfo& cudnnLibrary();
const LibraryInfo& cublasLibrary();
// Throw cr::Error with the reason when the library is not loaded.
void requireCudnn();
void requireCublas();
// True when cuDNN is loaded and has `name`, a function of cudnn_api.h (the optional ones may be
// missing from a library that loaded).
bool cudnnHasFunction(const char* name);
// A multi-line summary of both libraries: version and path, or the reason and the places looked at.
std::string describeLibraries();

// Why a cuDNN built for CUDA `builtFor` (cudnnGetCudartVersion: 12080 for 12.8) cannot run with
// the addon's CUDA runtime `runtime` (cudaRuntimeGetVersion), or "" when the majors match.
std::string cudartMismatch(const std::string& cudnnVersion, const std::string& path, int builtFor, int runtime);

// The enumerator name of a status ("CUDNN_STATUS_BAD_PARAM"); a code this build does not know is
// named by its category and number ("CUDNN_STATUS_NOT_SUPPORTED sub-code 3099").
std::string cudnnStatusName(dnn::cudnnStatus_t status);
std::string cublasStatusName(blas::cublasStatus_t status);

// Throw cr::Error "<call> failed: <STATUS_NAME> (<the library's own text>)" naming the file and
// line, unless status is success.
void checkCudnn(dnn::cudnnStatus_t status, const char* call, const char* file, int line);
void checkCublas(blas::cublasStatus_t status, const char* call, const char* file, int line);

namespace detail {
// Used by the loader and the trampolines (dynload_symbols.cc). bind* resolves every function of
// the list from the dlopen handle: on success it stores them all and returns an empty list,
// otherwise it stores nothing and returns the names that are missing. unbind* forgets them.
std::vector<std::string> bindCudnnSymbols(void* library);
std::vector<std::string> bindCublasSymbols(void* library);
void unbindCudnnSymbols();
void unbindCublasSymbols();
// Throw cr::Error naming the function when the library is not loaded.
void ensureCudnnCallable(const char* function);
void ensureCublasCallable(const char* function);
}  // namespace detail

}  // namespace cr::cuda

#define CR_CUDNN_CHECK(call) ::cr::cuda::checkCudnn((call), #call, __FILE__, __LINE__)
#define CR_CUBLAS_CHECK(call) ::cr::cuda::checkCublas((call), #call, __FILE__, __LINE__)
