// The project's own declarations of the cuBLAS 13 subset it uses, in namespace cr::blas. The
// library itself is loaded at run time with dlopen (dynload.cc), so no cuBLAS header or library is
// needed to build. Every function below is defined in dynload_symbols.cc as a trampoline that
// calls the function of the loaded libcublas.so.13 (and throws cr::Error when cuBLAS could not be
// loaded).
//
// Source of every value and signature: NVIDIA's published cuBLAS 13.0.0 header cublas_api.h
// (CUBLAS_VER_MAJOR 13, CUBLAS_VER_MINOR 0, CUBLAS_VER_PATCH 0, CUBLAS_VER_BUILD 19) as vendored
// verbatim in the public GitHub repository leomaxwell972/CU13ToolKit_Includes, file
// include/cublas_api.h (commit aa0473e4f7472b5714bc6807dade70ec3d76734a). cudaDataType_t and
// libraryPropertyType come from the CUDA toolkit's own <library_types.h>.
//
// Names: in the real headers cublasCreate, cublasDestroy, cublasSetStream, cublasGetVersion,
// cublasSetWorkspace and cublasSgemm are macros (cublas_v2.h) for the exported *_v2 functions.
// This header declares only the exported names and the project calls them by those names
// (cublasCreate_v2, cublasSgemm_v2, ...); there are no aliases, so the real cublas_v2.h macros
// can never rename anything here.
//
// Enumerators are X-macro lists (name, value) and functions an X-macro list (return type, name,
// parameters, arguments), so that dynload.cc and header_check.cc cover exactly what is declared.
#pragma once
#include <cuda_runtime_api.h>
#include <library_types.h>

#include <cstddef>

// ---- Enumerator lists: X(name, value) ----

// cublasStatus_t
#define CR_CUBLAS_STATUS_VALUES(X)       \
  X(CUBLAS_STATUS_SUCCESS, 0)            \
  X(CUBLAS_STATUS_NOT_INITIALIZED, 1)    \
  X(CUBLAS_STATUS_ALLOC_FAILED, 3)       \
  X(CUBLAS_STATUS_INVALID_VALUE, 7)      \
  X(CUBLAS_STATUS_ARCH_MISMATCH, 8)      \
  X(CUBLAS_STATUS_MAPPING_ERROR, 11)     \
  X(CUBLAS_STATUS_EXECUTION_FAILED, 13)  \
  X(CUBLAS_STATUS_INTERNAL_ERROR, 14)    \
  X(CUBLAS_STATUS_NOT_SUPPORTED, 15)     \
  X(CUBLAS_STATUS_LICENSE_ERROR, 16)

// cublasOperation_t (CUBLAS_OP_HERMITAN is a synonym of CUBLAS_OP_C)
#define CR_CUBLAS_OPERATION_VALUES(X) \
  X(CUBLAS_OP_N, 0)                   \
  X(CUBLAS_OP_T, 1)                   \
  X(CUBLAS_OP_C, 2)                   \
  X(CUBLAS_OP_HERMITAN, 2)            \
  X(CUBLAS_OP_CONJG, 3)

// cublasMath_t. CUBLAS_DEFAULT_MATH keeps float32 routines in float32 (no TF32);
// CUBLAS_TF32_TENSOR_OP_MATH allows TF32 tensor cores for them.
#define CR_CUBLAS_MATH_VALUES(X)                              \
  X(CUBLAS_DEFAULT_MATH, 0)                                   \
  X(CUBLAS_TENSOR_OP_MATH, 1)                                 \
  X(CUBLAS_PEDANTIC_MATH, 2)                                  \
  X(CUBLAS_TF32_TENSOR_OP_MATH, 3)                            \
  X(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION, 16)

// cublasComputeType_t
#define CR_CUBLAS_COMPUTE_TYPE_VALUES(X)    \
  X(CUBLAS_COMPUTE_16F, 64)                 \
  X(CUBLAS_COMPUTE_16F_PEDANTIC, 65)        \
  X(CUBLAS_COMPUTE_32F, 68)                 \
  X(CUBLAS_COMPUTE_32F_PEDANTIC, 69)        \
  X(CUBLAS_COMPUTE_32F_FAST_16F, 74)        \
  X(CUBLAS_COMPUTE_32F_FAST_16BF, 75)       \
  X(CUBLAS_COMPUTE_32F_FAST_TF32, 77)       \
  X(CUBLAS_COMPUTE_64F, 70)                 \
  X(CUBLAS_COMPUTE_64F_PEDANTIC, 71)        \
  X(CUBLAS_COMPUTE_32I, 72)                 \
  X(CUBLAS_COMPUTE_32I_PEDANTIC, 73)

// cublasGemmAlgo_t (the two the project uses; the real enum also lists explicit algorithms)
#define CR_CUBLAS_GEMM_ALGO_VALUES(X) \
  X(CUBLAS_GEMM_DEFAULT, -1)          \
  X(CUBLAS_GEMM_DEFAULT_TENSOR_OP, 99)

// Every list above, as L(list).
#define CR_CUBLAS_ENUM_LISTS(L)        \
  L(CR_CUBLAS_STATUS_VALUES)           \
  L(CR_CUBLAS_OPERATION_VALUES)        \
  L(CR_CUBLAS_MATH_VALUES)             \
  L(CR_CUBLAS_COMPUTE_TYPE_VALUES)     \
  L(CR_CUBLAS_GEMM_ALGO_VALUES)

#define CR_BLAS_ENUMERATOR(name, value) name = value,

namespace cr::blas {

// Opaque structure holding the cuBLAS library context.
struct cublasContext;
typedef struct cublasContext* cublasHandle_t;

enum cublasStatus_t { CR_CUBLAS_STATUS_VALUES(CR_BLAS_ENUMERATOR) };
enum cublasOperation_t { CR_CUBLAS_OPERATION_VALUES(CR_BLAS_ENUMERATOR) };
enum cublasMath_t { CR_CUBLAS_MATH_VALUES(CR_BLAS_ENUMERATOR) };
enum cublasComputeType_t { CR_CUBLAS_COMPUTE_TYPE_VALUES(CR_BLAS_ENUMERATOR) };
enum cublasGemmAlgo_t { CR_CUBLAS_GEMM_ALGO_VALUES(CR_BLAS_ENUMERATOR) };

}  // namespace cr::blas

// ---- Functions: X(return type, name, (parameters), (arguments)) ----
#define CR_CUBLAS_FUNCTIONS(X)                                                                         \
  X(cublasStatus_t, cublasCreate_v2, (cublasHandle_t* handle), (handle))                               \
  X(cublasStatus_t, cublasDestroy_v2, (cublasHandle_t handle), (handle))                               \
  X(cublasStatus_t, cublasGetVersion_v2, (cublasHandle_t handle, int* version), (handle, version))     \
  X(cublasStatus_t, cublasGetProperty, (libraryPropertyType type, int* value), (type, value))          \
  X(cublasStatus_t, cublasSetWorkspace_v2,                                                             \
    (cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes),                             \
    (handle, workspace, workspaceSizeInBytes))                                                         \
  X(cublasStatus_t, cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t streamId),                \
    (handle, streamId))                                                                                \
  X(cublasStatus_t, cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode), (handle, mode))     \
  X(const char*, cublasGetStatusName, (cublasStatus_t status), (status))                               \
  X(const char*, cublasGetStatusString, (cublasStatus_t status), (status))                             \
  X(cublasStatus_t, cublasSgemm_v2,                                                                    \
    (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,   \
     const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,          \
     float* C, int ldc),                                                                               \
    (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))                            \
  X(cublasStatus_t, cublasGemmEx,                                                                      \
    (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,   \
     const void* alpha, const void* A, cudaDataType_t Atype, int lda, const void* B,                   \
     cudaDataType_t Btype, int ldb, const void* beta, void* C, cudaDataType_t Ctype, int ldc,          \
     cublasComputeType_t computeType, cublasGemmAlgo_t algo),                                          \
    (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,        \
     computeType, algo))                                                                               \
  X(cublasStatus_t, cublasSgemmStridedBatched,                                                         \
    (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,   \
     const float* alpha, const float* A, int lda, long long int strideA, const float* B, int ldb,      \
     long long int strideB, const float* beta, float* C, int ldc, long long int strideC,               \
     int batchCount),                                                                                  \
    (handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,  \
     batchCount))

namespace cr::blas {

#define CR_BLAS_DECLARE_FUNCTION(ret, name, params, args) ret name params;
CR_CUBLAS_FUNCTIONS(CR_BLAS_DECLARE_FUNCTION)
#undef CR_BLAS_DECLARE_FUNCTION

}  // namespace cr::blas
