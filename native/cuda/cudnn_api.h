// The project's own declarations of the cuDNN 9 subset it uses, in namespace cr::dnn. The library
// itself is loaded at run time with dlopen (dynload.cc), so no cuDNN header or library is needed to
// build. Every function below is defined in dynload_symbols.cc as a trampoline that calls the
// function of the loaded libcudnn.so.9 (and throws cr::Error when cuDNN could not be loaded).
//
// Source of every value, struct layout and signature: NVIDIA's published cuDNN 9.6.0 headers
// (CUDNN_MAJOR 9, CUDNN_MINOR 6, CUDNN_PATCHLEVEL 0) as vendored verbatim in the public GitHub
// repository zspace/system.cuda-12.6, files include/cudnn_version.h, include/cudnn_graph.h,
// include/cudnn_ops.h and include/cudnn_cnn.h (commit b3d92c837713411301ae5df45b0c7758df7d931e).
// The graph (backend) API subset at the end of the enumerator lists and CR_CUDNN_BACKEND_FUNCTIONS
// come from the same file, include/cudnn_graph.h of that commit: the enums cudnnBackendDescriptorType_t,
// cudnnBackendAttributeType_t and cudnnBackendNumericalNote_t number their enumerators implicitly
// from 0, and the values below are those positions (cross-checked against vosen/ZLUDA's bindgen
// transcription of the cuDNN 9.13.1 headers, cuda_types/src/cudnn9.rs, which spells them out).
// CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE (3014) is newer than 9.6: it was added in
// cuDNN 9.18 (taken from a bindgen transcription of the cuDNN 9.22.0 headers).
//
// Versions: cudnnGetVersion() returns CUDNN_VERSION, which cuDNN 9 defines as
// MAJOR * 10000 + MINOR * 100 + PATCHLEVEL (9.6.0 -> 90600); cuDNN 8 and older used MAJOR * 1000.
//
// Enumerators are written as X-macro lists (name, value) so that the status-name table
// (dynload.cc) and the check against the real headers (header_check.cc) cover exactly the values
// declared here; functions likewise (CR_CUDNN_FUNCTIONS: return type, name, parameters, arguments).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

// ---- Enumerator lists: X(name, value) ----

// cudnnStatus_t (cudnn_graph.h): every distinct code of cuDNN 9.6, the 9.x sub-codes included.
#define CR_CUDNN_STATUS_VALUES(X)                                  \
  X(CUDNN_STATUS_SUCCESS, 0)                                       \
  X(CUDNN_STATUS_NOT_INITIALIZED, 1001)                            \
  X(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH, 1002)                \
  X(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH, 1003)             \
  X(CUDNN_STATUS_DEPRECATED, 1004)                                 \
  X(CUDNN_STATUS_LICENSE_ERROR, 1005)                              \
  X(CUDNN_STATUS_RUNTIME_IN_PROGRESS, 1006)                        \
  X(CUDNN_STATUS_RUNTIME_FP_OVERFLOW, 1007)                        \
  X(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED, 1008)                  \
  X(CUDNN_STATUS_BAD_PARAM, 2000)                                  \
  X(CUDNN_STATUS_INVALID_VALUE, 2001)                              \
  X(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, 2002)                     \
  X(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER, 2003)               \
  X(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, 2004)                    \
  X(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND, 2005)                     \
  X(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT, 2006)                \
  X(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH, 2007)                  \
  X(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, 2008)                   \
  X(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES, 2009)               \
  X(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, 2010)                   \
  X(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH, 2011)              \
  X(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE, 2012)                  \
  X(CUDNN_STATUS_NOT_SUPPORTED, 3000)                              \
  X(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN, 3001)                \
  X(CUDNN_STATUS_NOT_SUPPORTED_SHAPE, 3002)                        \
  X(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, 3003)                    \
  X(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, 3004)                       \
  X(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER, 3005)     \
  X(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART, 3006)          \
  X(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH, 3007)                \
  X(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING, 3008) \
  X(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE, 3009)       \
  X(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT, 3010)   \
  X(CUDNN_STATUS_NOT_SUPPORTED_PADDING, 3011)                      \
  X(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM, 3012)             \
  X(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API, 3013)        \
  X(CUDNN_STATUS_INTERNAL_ERROR, 4000)                             \
  X(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED, 4001)          \
  X(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE, 4002)            \
  X(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, 4003)      \
  X(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, 4004)    \
  X(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM, 4005)            \
  X(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED, 4006)     \
  X(CUDNN_STATUS_EXECUTION_FAILED, 5000)                           \
  X(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER, 5001)               \
  X(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS, 5002)                    \
  X(CUDNN_STATUS_EXECUTION_FAILED_CUDART, 5003)                    \
  X(CUDNN_STATUS_EXECUTION_FAILED_CURAND, 5004)

// cudnnStatus_t codes added after cuDNN 9.6 (checked against headers of cuDNN 9.18 and later).
#define CR_CUDNN_STATUS_VALUES_SINCE_9_18(X) X(CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE, 3014)

// Deprecated cudnnStatus_t synonyms of the codes above (same values; left out of the name table).
#define CR_CUDNN_STATUS_ALIASES(X)                          \
  X(CUDNN_STATUS_ALLOC_FAILED, 4003)                        \
  X(CUDNN_STATUS_ARCH_MISMATCH, 3007)                       \
  X(CUDNN_STATUS_MAPPING_ERROR, 4006)                       \
  X(CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING, 3008)        \
  X(CUDNN_STATUS_VERSION_MISMATCH, 1002)

// cudnnDataType_t (cudnn_graph.h)
#define CR_CUDNN_DATA_TYPE_VALUES(X)     \
  X(CUDNN_DATA_FLOAT, 0)                 \
  X(CUDNN_DATA_DOUBLE, 1)                \
  X(CUDNN_DATA_HALF, 2)                  \
  X(CUDNN_DATA_INT8, 3)                  \
  X(CUDNN_DATA_INT32, 4)                 \
  X(CUDNN_DATA_INT8x4, 5)                \
  X(CUDNN_DATA_UINT8, 6)                 \
  X(CUDNN_DATA_UINT8x4, 7)               \
  X(CUDNN_DATA_INT8x32, 8)               \
  X(CUDNN_DATA_BFLOAT16, 9)              \
  X(CUDNN_DATA_INT64, 10)                \
  X(CUDNN_DATA_BOOLEAN, 11)              \
  X(CUDNN_DATA_FP8_E4M3, 12)             \
  X(CUDNN_DATA_FP8_E5M2, 13)             \
  X(CUDNN_DATA_FAST_FLOAT_FOR_FP8, 14)

// cudnnMathType_t (cudnn_graph.h). CUDNN_FMA_MATH is the one that excludes TF32 tensor-core
// kernels for float data; CUDNN_DEFAULT_MATH permits TF32 on Ampere and newer GPUs.
#define CR_CUDNN_MATH_TYPE_VALUES(X)            \
  X(CUDNN_DEFAULT_MATH, 0)                      \
  X(CUDNN_TENSOR_OP_MATH, 1)                    \
  X(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, 2)   \
  X(CUDNN_FMA_MATH, 3)

// cudnnNanPropagation_t (cudnn_graph.h)
#define CR_CUDNN_NAN_PROPAGATION_VALUES(X) \
  X(CUDNN_NOT_PROPAGATE_NAN, 0)            \
  X(CUDNN_PROPAGATE_NAN, 1)

// cudnnTensorFormat_t (cudnn_graph.h)
#define CR_CUDNN_TENSOR_FORMAT_VALUES(X) \
  X(CUDNN_TENSOR_NCHW, 0)                \
  X(CUDNN_TENSOR_NHWC, 1)                \
  X(CUDNN_TENSOR_NCHW_VECT_C, 2)

// cudnnActivationMode_t (cudnn_graph.h)
#define CR_CUDNN_ACTIVATION_MODE_VALUES(X) \
  X(CUDNN_ACTIVATION_SIGMOID, 0)           \
  X(CUDNN_ACTIVATION_RELU, 1)              \
  X(CUDNN_ACTIVATION_TANH, 2)              \
  X(CUDNN_ACTIVATION_CLIPPED_RELU, 3)      \
  X(CUDNN_ACTIVATION_ELU, 4)               \
  X(CUDNN_ACTIVATION_IDENTITY, 5)          \
  X(CUDNN_ACTIVATION_SWISH, 6)

// cudnnConvolutionMode_t (cudnn_graph.h)
#define CR_CUDNN_CONVOLUTION_MODE_VALUES(X) \
  X(CUDNN_CONVOLUTION, 0)                   \
  X(CUDNN_CROSS_CORRELATION, 1)

// cudnnDeterminism_t (cudnn_ops.h)
#define CR_CUDNN_DETERMINISM_VALUES(X) \
  X(CUDNN_NON_DETERMINISTIC, 0)        \
  X(CUDNN_DETERMINISTIC, 1)

// cudnnPoolingMode_t (cudnn_ops.h)
#define CR_CUDNN_POOLING_MODE_VALUES(X)              \
  X(CUDNN_POOLING_MAX, 0)                            \
  X(CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, 1)  \
  X(CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, 2)  \
  X(CUDNN_POOLING_MAX_DETERMINISTIC, 3)

// cudnnBatchNormMode_t (cudnn_ops.h)
#define CR_CUDNN_BATCH_NORM_MODE_VALUES(X)    \
  X(CUDNN_BATCHNORM_PER_ACTIVATION, 0)        \
  X(CUDNN_BATCHNORM_SPATIAL, 1)               \
  X(CUDNN_BATCHNORM_SPATIAL_PERSISTENT, 2)

// cudnnBatchNormOps_t (cudnn_ops.h)
#define CR_CUDNN_BATCH_NORM_OPS_VALUES(X)       \
  X(CUDNN_BATCHNORM_OPS_BN, 0)                  \
  X(CUDNN_BATCHNORM_OPS_BN_ACTIVATION, 1)       \
  X(CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION, 2)

// cudnnConvolutionFwdAlgo_t (cudnn_ops.h)
#define CR_CUDNN_CONV_FWD_ALGO_VALUES(X)                   \
  X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, 0)           \
  X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 1)   \
  X(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, 2)                    \
  X(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, 3)                  \
  X(CUDNN_CONVOLUTION_FWD_ALGO_FFT, 4)                     \
  X(CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, 5)              \
  X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, 6)                \
  X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, 7)       \
  X(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, 8)

// cudnnConvolutionBwdDataAlgo_t (cudnn_ops.h)
#define CR_CUDNN_CONV_BWD_DATA_ALGO_VALUES(X)              \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, 0)                  \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, 1)                  \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, 2)                \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, 3)         \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, 4)           \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, 5)  \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, 6)

// cudnnConvolutionBwdFilterAlgo_t (cudnn_ops.h)
#define CR_CUDNN_CONV_BWD_FILTER_ALGO_VALUES(X)              \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, 0)                  \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, 1)                  \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, 2)                \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, 3)                  \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD, 4)           \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, 5)  \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, 6)         \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, 7)

// ---- Graph (backend) API enumerators (cudnn_graph.h): only those the project uses ----

// cudnnBackendDescriptorType_t (implicit values: the position in the enum)
#define CR_CUDNN_BACKEND_DESCRIPTOR_TYPE_VALUES(X)               \
  X(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, 0)                       \
  X(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, 1)                     \
  X(CUDNN_BACKEND_ENGINE_DESCRIPTOR, 2)                          \
  X(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, 3)                       \
  X(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, 4)                      \
  X(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, 5)                  \
  X(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, 10)  \
  X(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, 13)            \
  X(CUDNN_BACKEND_OPERATION_GEN_STATS_DESCRIPTOR, 14)            \
  X(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, 15)                 \
  X(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, 16)                   \
  X(CUDNN_BACKEND_TENSOR_DESCRIPTOR, 17)

// cudnnBackendAttributeName_t (explicit values in the header)
#define CR_CUDNN_BACKEND_ATTRIBUTE_NAME_VALUES(X)               \
  X(CUDNN_ATTR_POINTWISE_MODE, 0)                               \
  X(CUDNN_ATTR_POINTWISE_MATH_PREC, 1)                          \
  X(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, 100)                      \
  X(CUDNN_ATTR_CONVOLUTION_CONV_MODE, 101)                      \
  X(CUDNN_ATTR_CONVOLUTION_DILATIONS, 102)                      \
  X(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, 103)                 \
  X(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, 104)                  \
  X(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, 105)                   \
  X(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 106)                   \
  X(CUDNN_ATTR_ENGINEHEUR_MODE, 200)                            \
  X(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, 201)                 \
  X(CUDNN_ATTR_ENGINEHEUR_RESULTS, 202)                         \
  X(CUDNN_ATTR_ENGINECFG_ENGINE, 300)                           \
  X(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, 400)                      \
  X(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, 401)               \
  X(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, 402)              \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 700)        \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 701)         \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, 702)    \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, 703)            \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, 704)            \
  X(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, 705)            \
  X(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, 750)          \
  X(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, 751)                  \
  X(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, 752)                  \
  X(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, 753)                  \
  X(CUDNN_ATTR_OPERATION_GENSTATS_MODE, 770)                    \
  X(CUDNN_ATTR_OPERATION_GENSTATS_MATH_PREC, 771)               \
  X(CUDNN_ATTR_OPERATION_GENSTATS_XDESC, 772)                   \
  X(CUDNN_ATTR_OPERATION_GENSTATS_SUMDESC, 773)                 \
  X(CUDNN_ATTR_OPERATION_GENSTATS_SQSUMDESC, 774)               \
  X(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, 800)                      \
  X(CUDNN_ATTR_OPERATIONGRAPH_OPS, 801)                         \
  X(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 900)                      \
  X(CUDNN_ATTR_TENSOR_DATA_TYPE, 901)                           \
  X(CUDNN_ATTR_TENSOR_DIMENSIONS, 902)                          \
  X(CUDNN_ATTR_TENSOR_STRIDES, 903)                             \
  X(CUDNN_ATTR_TENSOR_UNIQUE_ID, 906)                           \
  X(CUDNN_ATTR_TENSOR_IS_VIRTUAL, 907)                          \
  X(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, 1000)                   \
  X(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, 1001)                \
  X(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, 1003)                    \
  X(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, 1303)

// cudnnBackendAttributeType_t (implicit values: the position in the enum)
#define CR_CUDNN_BACKEND_ATTRIBUTE_TYPE_VALUES(X) \
  X(CUDNN_TYPE_HANDLE, 0)                         \
  X(CUDNN_TYPE_DATA_TYPE, 1)                      \
  X(CUDNN_TYPE_BOOLEAN, 2)                        \
  X(CUDNN_TYPE_INT64, 3)                          \
  X(CUDNN_TYPE_FLOAT, 4)                          \
  X(CUDNN_TYPE_DOUBLE, 5)                         \
  X(CUDNN_TYPE_VOID_PTR, 6)                       \
  X(CUDNN_TYPE_CONVOLUTION_MODE, 7)               \
  X(CUDNN_TYPE_HEUR_MODE, 8)                      \
  X(CUDNN_TYPE_NUMERICAL_NOTE, 11)                \
  X(CUDNN_TYPE_POINTWISE_MODE, 14)                \
  X(CUDNN_TYPE_BACKEND_DESCRIPTOR, 15)            \
  X(CUDNN_TYPE_GENSTATS_MODE, 16)

// cudnnPointwiseMode_t (explicit values)
#define CR_CUDNN_POINTWISE_MODE_VALUES(X) \
  X(CUDNN_POINTWISE_ADD, 0)               \
  X(CUDNN_POINTWISE_MUL, 1)               \
  X(CUDNN_POINTWISE_RELU_FWD, 100)

// cudnnGenStatsMode_t
#define CR_CUDNN_GENSTATS_MODE_VALUES(X) X(CUDNN_GENSTATS_SUM_SQSUM, 0)

// cudnnBackendHeurMode_t (explicit values)
#define CR_CUDNN_HEUR_MODE_VALUES(X) \
  X(CUDNN_HEUR_MODE_INSTANT, 0)      \
  X(CUDNN_HEUR_MODE_B, 1)            \
  X(CUDNN_HEUR_MODE_FALLBACK, 2)     \
  X(CUDNN_HEUR_MODE_A, 3)

// cudnnBackendNumericalNote_t (implicit values). Its count grows between versions, so it is not
// declared; a query asks for at most kMaxNumericalNotes notes (graph_api.h).
#define CR_CUDNN_NUMERICAL_NOTE_VALUES(X)                \
  X(CUDNN_NUMERICAL_NOTE_TENSOR_CORE, 0)                 \
  X(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS, 1)         \
  X(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION, 2) \
  X(CUDNN_NUMERICAL_NOTE_FFT, 3)                         \
  X(CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, 4)

// Every list above that is checked against any cuDNN 9 header, as L(list).
#define CR_CUDNN_ENUM_LISTS(L)                \
  L(CR_CUDNN_STATUS_VALUES)                   \
  L(CR_CUDNN_STATUS_ALIASES)                  \
  L(CR_CUDNN_DATA_TYPE_VALUES)                \
  L(CR_CUDNN_MATH_TYPE_VALUES)                \
  L(CR_CUDNN_NAN_PROPAGATION_VALUES)          \
  L(CR_CUDNN_TENSOR_FORMAT_VALUES)            \
  L(CR_CUDNN_ACTIVATION_MODE_VALUES)          \
  L(CR_CUDNN_CONVOLUTION_MODE_VALUES)         \
  L(CR_CUDNN_DETERMINISM_VALUES)              \
  L(CR_CUDNN_POOLING_MODE_VALUES)             \
  L(CR_CUDNN_BATCH_NORM_MODE_VALUES)          \
  L(CR_CUDNN_BATCH_NORM_OPS_VALUES)           \
  L(CR_CUDNN_CONV_FWD_ALGO_VALUES)            \
  L(CR_CUDNN_CONV_BWD_DATA_ALGO_VALUES)       \
  L(CR_CUDNN_CONV_BWD_FILTER_ALGO_VALUES)       \
  L(CR_CUDNN_BACKEND_DESCRIPTOR_TYPE_VALUES)    \
  L(CR_CUDNN_BACKEND_ATTRIBUTE_NAME_VALUES)     \
  L(CR_CUDNN_BACKEND_ATTRIBUTE_TYPE_VALUES)     \
  L(CR_CUDNN_POINTWISE_MODE_VALUES)             \
  L(CR_CUDNN_GENSTATS_MODE_VALUES)              \
  L(CR_CUDNN_HEUR_MODE_VALUES)                  \
  L(CR_CUDNN_NUMERICAL_NOTE_VALUES)

#define CR_DNN_ENUMERATOR(name, value) name = value,

namespace cr::dnn {

// ---- Opaque handle and descriptor types ----
struct cudnnContext;
typedef struct cudnnContext* cudnnHandle_t;
struct cudnnTensorStruct;
typedef struct cudnnTensorStruct* cudnnTensorDescriptor_t;
struct cudnnFilterStruct;
typedef struct cudnnFilterStruct* cudnnFilterDescriptor_t;
struct cudnnConvolutionStruct;
typedef struct cudnnConvolutionStruct* cudnnConvolutionDescriptor_t;
struct cudnnActivationStruct;
typedef struct cudnnActivationStruct* cudnnActivationDescriptor_t;
// Every graph (backend) API descriptor, whatever its cudnnBackendDescriptorType_t.
typedef void* cudnnBackendDescriptor_t;

// ---- Enums ----
enum cudnnStatus_t {
  CR_CUDNN_STATUS_VALUES(CR_DNN_ENUMERATOR)
  CR_CUDNN_STATUS_VALUES_SINCE_9_18(CR_DNN_ENUMERATOR)
  CR_CUDNN_STATUS_ALIASES(CR_DNN_ENUMERATOR)
};
enum cudnnDataType_t { CR_CUDNN_DATA_TYPE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnMathType_t { CR_CUDNN_MATH_TYPE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnNanPropagation_t { CR_CUDNN_NAN_PROPAGATION_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnTensorFormat_t { CR_CUDNN_TENSOR_FORMAT_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnActivationMode_t { CR_CUDNN_ACTIVATION_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnConvolutionMode_t { CR_CUDNN_CONVOLUTION_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnDeterminism_t { CR_CUDNN_DETERMINISM_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnPoolingMode_t { CR_CUDNN_POOLING_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBatchNormMode_t { CR_CUDNN_BATCH_NORM_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBatchNormOps_t { CR_CUDNN_BATCH_NORM_OPS_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnConvolutionFwdAlgo_t { CR_CUDNN_CONV_FWD_ALGO_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnConvolutionBwdDataAlgo_t { CR_CUDNN_CONV_BWD_DATA_ALGO_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnConvolutionBwdFilterAlgo_t { CR_CUDNN_CONV_BWD_FILTER_ALGO_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBackendDescriptorType_t { CR_CUDNN_BACKEND_DESCRIPTOR_TYPE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBackendAttributeName_t { CR_CUDNN_BACKEND_ATTRIBUTE_NAME_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBackendAttributeType_t { CR_CUDNN_BACKEND_ATTRIBUTE_TYPE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnPointwiseMode_t { CR_CUDNN_POINTWISE_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnGenStatsMode_t { CR_CUDNN_GENSTATS_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBackendHeurMode_t { CR_CUDNN_HEUR_MODE_VALUES(CR_DNN_ENUMERATOR) };
enum cudnnBackendNumericalNote_t { CR_CUDNN_NUMERICAL_NOTE_VALUES(CR_DNN_ENUMERATOR) };

// Minimum epsilon allowed in the batch normalization formula (cudnn_ops.h).
constexpr double CUDNN_BN_MIN_EPSILON = 0.0;

// ---- Algorithm search results (cudnn_cnn.h), field for field ----
typedef struct cudnnConvolutionFwdAlgoPerfStruct {
  cudnnConvolutionFwdAlgo_t algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;
  int reserved[3];
} cudnnConvolutionFwdAlgoPerf_t;

typedef struct cudnnConvolutionBwdDataAlgoPerfStruct {
  cudnnConvolutionBwdDataAlgo_t algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;
  int reserved[3];
} cudnnConvolutionBwdDataAlgoPerf_t;

typedef struct cudnnConvolutionBwdFilterAlgoPerfStruct {
  cudnnConvolutionBwdFilterAlgo_t algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;
  int reserved[3];
} cudnnConvolutionBwdFilterAlgoPerf_t;

}  // namespace cr::dnn

// ---- Functions: X(return type, name, (parameters), (arguments)) ----
// The names and parameter lists of the published headers; the types are those of cr::dnn.

// cudnn_graph.h: version, errors, handle
#define CR_CUDNN_GRAPH_FUNCTIONS(X)                                                              \
  X(size_t, cudnnGetVersion, (), ())                                                             \
  X(size_t, cudnnGetCudartVersion, (), ())                                                       \
  X(const char*, cudnnGetErrorString, (cudnnStatus_t status), (status))                          \
  X(void, cudnnGetLastErrorString, (char* message, size_t max_size), (message, max_size))        \
  X(cudnnStatus_t, cudnnCreate, (cudnnHandle_t* handle), (handle))                              \
  X(cudnnStatus_t, cudnnDestroy, (cudnnHandle_t handle), (handle))                               \
  X(cudnnStatus_t, cudnnSetStream, (cudnnHandle_t handle, cudaStream_t streamId), (handle, streamId))

// cudnn_ops.h: tensor, filter and activation descriptors, tensor addition, batch normalization
#define CR_CUDNN_OPS_FUNCTIONS(X)                                                                      \
  X(cudnnStatus_t, cudnnCreateTensorDescriptor, (cudnnTensorDescriptor_t* tensorDesc), (tensorDesc)) \
  X(cudnnStatus_t, cudnnSetTensor4dDescriptor,                                                         \
    (cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format, cudnnDataType_t dataType, int n,  \
     int c, int h, int w),                                                                             \
    (tensorDesc, format, dataType, n, c, h, w))                                                        \
  X(cudnnStatus_t, cudnnSetTensor4dDescriptorEx,                                                       \
    (cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType, int n, int c, int h, int w,         \
     int nStride, int cStride, int hStride, int wStride),                                              \
    (tensorDesc, dataType, n, c, h, w, nStride, cStride, hStride, wStride))                            \
  X(cudnnStatus_t, cudnnDestroyTensorDescriptor, (cudnnTensorDescriptor_t tensorDesc), (tensorDesc))  \
  X(cudnnStatus_t, cudnnAddTensor,                                                                     \
    (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t aDesc, const void* A,      \
     const void* beta, const cudnnTensorDescriptor_t cDesc, void* C),                                  \
    (handle, alpha, aDesc, A, beta, cDesc, C))                                                         \
  X(cudnnStatus_t, cudnnCreateFilterDescriptor, (cudnnFilterDescriptor_t* filterDesc), (filterDesc)) \
  X(cudnnStatus_t, cudnnSetFilter4dDescriptor,                                                         \
    (cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format, int k,  \
     int c, int h, int w),                                                                             \
    (filterDesc, dataType, format, k, c, h, w))                                                        \
  X(cudnnStatus_t, cudnnDestroyFilterDescriptor, (cudnnFilterDescriptor_t filterDesc), (filterDesc))  \
  X(cudnnStatus_t, cudnnCreateActivationDescriptor, (cudnnActivationDescriptor_t* activationDesc),   \
    (activationDesc))                                                                                  \
  X(cudnnStatus_t, cudnnSetActivationDescriptor,                                                       \
    (cudnnActivationDescriptor_t activationDesc, cudnnActivationMode_t mode,                           \
     cudnnNanPropagation_t reluNanOpt, double coef),                                                   \
    (activationDesc, mode, reluNanOpt, coef))                                                          \
  X(cudnnStatus_t, cudnnDestroyActivationDescriptor, (cudnnActivationDescriptor_t activationDesc),    \
    (activationDesc))                                                                                  \
  X(cudnnStatus_t, cudnnDeriveBNTensorDescriptor,                                                      \
    (cudnnTensorDescriptor_t derivedBnDesc, const cudnnTensorDescriptor_t xDesc,                       \
     cudnnBatchNormMode_t mode),                                                                       \
    (derivedBnDesc, xDesc, mode))                                                                      \
  X(cudnnStatus_t, cudnnBatchNormalizationForwardInference,                                            \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,             \
     const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y, \
     const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale, const void* bnBias,    \
     const void* estimatedMean, const void* estimatedVariance, double epsilon),                        \
    (handle, mode, alpha, beta, xDesc, x, yDesc, y, bnScaleBiasMeanVarDesc, bnScale, bnBias,           \
     estimatedMean, estimatedVariance, epsilon))                                                       \
  X(cudnnStatus_t, cudnnBatchNormalizationForwardTraining,                                             \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,             \
     const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y, \
     const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale, const void* bnBias,    \
     double exponentialAverageFactor, void* resultRunningMean, void* resultRunningVariance,            \
     double epsilon, void* resultSaveMean, void* resultSaveInvVariance),                               \
    (handle, mode, alpha, beta, xDesc, x, yDesc, y, bnScaleBiasMeanVarDesc, bnScale, bnBias,           \
     exponentialAverageFactor, resultRunningMean, resultRunningVariance, epsilon, resultSaveMean,      \
     resultSaveInvVariance))                                                                           \
  X(cudnnStatus_t, cudnnBatchNormalizationBackward,                                                    \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff,                       \
     const void* betaDataDiff, const void* alphaParamDiff, const void* betaParamDiff,                  \
     const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t dyDesc,         \
     const void* dy, const cudnnTensorDescriptor_t dxDesc, void* dx,                                   \
     const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale, void* dBnScaleResult,        \
     void* dBnBiasResult, double epsilon, const void* savedMean, const void* savedInvVariance),        \
    (handle, mode, alphaDataDiff, betaDataDiff, alphaParamDiff, betaParamDiff, xDesc, x, dyDesc, dy,   \
     dxDesc, dx, dBnScaleBiasDesc, bnScale, dBnScaleResult, dBnBiasResult, epsilon, savedMean,         \
     savedInvVariance))                                                                                \
  X(cudnnStatus_t, cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize,                           \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,                       \
     const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t zDesc,                         \
     const cudnnTensorDescriptor_t yDesc, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,        \
     const cudnnActivationDescriptor_t activationDesc, size_t* sizeInBytes),                           \
    (handle, mode, bnOps, xDesc, zDesc, yDesc, bnScaleBiasMeanVarDesc, activationDesc, sizeInBytes))   \
  X(cudnnStatus_t, cudnnGetBatchNormalizationBackwardExWorkspaceSize,                                  \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,                       \
     const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t yDesc,                         \
     const cudnnTensorDescriptor_t dyDesc, const cudnnTensorDescriptor_t dzDesc,                       \
     const cudnnTensorDescriptor_t dxDesc, const cudnnTensorDescriptor_t dBnScaleBiasDesc,             \
     const cudnnActivationDescriptor_t activationDesc, size_t* sizeInBytes),                           \
    (handle, mode, bnOps, xDesc, yDesc, dyDesc, dzDesc, dxDesc, dBnScaleBiasDesc, activationDesc,      \
     sizeInBytes))                                                                                     \
  X(cudnnStatus_t, cudnnGetBatchNormalizationTrainingExReserveSpaceSize,                               \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,                       \
     const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t xDesc,            \
     size_t* sizeInBytes),                                                                             \
    (handle, mode, bnOps, activationDesc, xDesc, sizeInBytes))                                         \
  X(cudnnStatus_t, cudnnBatchNormalizationForwardTrainingEx,                                           \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void* alpha,    \
     const void* beta, const cudnnTensorDescriptor_t xDesc, const void* xData,                         \
     const cudnnTensorDescriptor_t zDesc, const void* zData, const cudnnTensorDescriptor_t yDesc,      \
     void* yData, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale,           \
     const void* bnBias, double exponentialAverageFactor, void* resultRunningMean,                     \
     void* resultRunningVariance, double epsilon, void* resultSaveMean, void* resultSaveInvVariance,   \
     cudnnActivationDescriptor_t activationDesc, void* workspace, size_t workSpaceSizeInBytes,         \
     void* reserveSpace, size_t reserveSpaceSizeInBytes),                                              \
    (handle, mode, bnOps, alpha, beta, xDesc, xData, zDesc, zData, yDesc, yData,                       \
     bnScaleBiasMeanVarDesc, bnScale, bnBias, exponentialAverageFactor, resultRunningMean,             \
     resultRunningVariance, epsilon, resultSaveMean, resultSaveInvVariance, activationDesc, workspace, \
     workSpaceSizeInBytes, reserveSpace, reserveSpaceSizeInBytes))                                     \
  X(cudnnStatus_t, cudnnBatchNormalizationBackwardEx,                                                  \
    (cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,                       \
     const void* alphaDataDiff, const void* betaDataDiff, const void* alphaParamDiff,                  \
     const void* betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void* xData,                \
     const cudnnTensorDescriptor_t yDesc, const void* yData, const cudnnTensorDescriptor_t dyDesc,     \
     const void* dyData, const cudnnTensorDescriptor_t dzDesc, void* dzData,                           \
     const cudnnTensorDescriptor_t dxDesc, void* dxData, const cudnnTensorDescriptor_t dBnScaleBiasDesc, \
     const void* bnScaleData, const void* bnBiasData, void* dBnScaleData, void* dBnBiasData,           \
     double epsilon, const void* savedMean, const void* savedInvVariance,                              \
     cudnnActivationDescriptor_t activationDesc, void* workSpace, size_t workSpaceSizeInBytes,         \
     void* reserveSpace, size_t reserveSpaceSizeInBytes),                                              \
    (handle, mode, bnOps, alphaDataDiff, betaDataDiff, alphaParamDiff, betaParamDiff, xDesc, xData,    \
     yDesc, yData, dyDesc, dyData, dzDesc, dzData, dxDesc, dxData, dBnScaleBiasDesc, bnScaleData,      \
     bnBiasData, dBnScaleData, dBnBiasData, epsilon, savedMean, savedInvVariance, activationDesc,      \
     workSpace, workSpaceSizeInBytes, reserveSpace, reserveSpaceSizeInBytes))

// cudnn_cnn.h: convolution descriptors, algorithm search, convolutions (cudnnConvolutionBiasActivationForward:
// y = act(alpha1 * conv(x) + alpha2 * z + bias), the fused forward of the same header)
#define CR_CUDNN_CNN_FUNCTIONS(X)                                                                      \
  X(cudnnStatus_t, cudnnCreateConvolutionDescriptor, (cudnnConvolutionDescriptor_t* convDesc),       \
    (convDesc))                                                                                        \
  X(cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (cudnnConvolutionDescriptor_t convDesc),        \
    (convDesc))                                                                                        \
  X(cudnnStatus_t, cudnnSetConvolutionMathType,                                                        \
    (cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType), (convDesc, mathType))           \
  X(cudnnStatus_t, cudnnSetConvolutionGroupCount,                                                      \
    (cudnnConvolutionDescriptor_t convDesc, int groupCount), (convDesc, groupCount))                   \
  X(cudnnStatus_t, cudnnSetConvolution2dDescriptor,                                                    \
    (cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v, int dilation_h,        \
     int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType),                        \
    (convDesc, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType))                         \
  X(cudnnStatus_t, cudnnGetConvolutionForwardAlgorithm_v7,                                             \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,                                      \
     const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,            \
     const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int* returnedAlgoCount,     \
     cudnnConvolutionFwdAlgoPerf_t* perfResults),                                                      \
    (handle, srcDesc, filterDesc, convDesc, destDesc, requestedAlgoCount, returnedAlgoCount,           \
     perfResults))                                                                                     \
  X(cudnnStatus_t, cudnnFindConvolutionForwardAlgorithmEx,                                             \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,                         \
     const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,  \
     const cudnnTensorDescriptor_t yDesc, void* y, const int requestedAlgoCount,                       \
     int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace,              \
     size_t workSpaceSizeInBytes),                                                                     \
    (handle, xDesc, x, wDesc, w, convDesc, yDesc, y, requestedAlgoCount, returnedAlgoCount,            \
     perfResults, workSpace, workSpaceSizeInBytes))                                                    \
  X(cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize,                                            \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,   \
     const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,                 \
     cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes),                                             \
    (handle, xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes))                                        \
  X(cudnnStatus_t, cudnnConvolutionForward,                                                            \
    (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,      \
     const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,  \
     cudnnConvolutionFwdAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* beta,   \
     const cudnnTensorDescriptor_t yDesc, void* y),                                                    \
    (handle, alpha, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, yDesc,  \
     y))                                                                                               \
  X(cudnnStatus_t, cudnnConvolutionBiasActivationForward,                                              \
    (cudnnHandle_t handle, const void* alpha1, const cudnnTensorDescriptor_t xDesc, const void* x,     \
     const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,  \
     cudnnConvolutionFwdAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* alpha2, \
     const cudnnTensorDescriptor_t zDesc, const void* z, const cudnnTensorDescriptor_t biasDesc,       \
     const void* bias, const cudnnActivationDescriptor_t activationDesc,                               \
     const cudnnTensorDescriptor_t yDesc, void* y),                                                    \
    (handle, alpha1, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, alpha2,      \
     zDesc, z, biasDesc, bias, activationDesc, yDesc, y))                                              \
  X(cudnnStatus_t, cudnnFindConvolutionBackwardDataAlgorithmEx,                                        \
    (cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w,                         \
     const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc, \
     const cudnnTensorDescriptor_t dxDesc, void* dx, const int requestedAlgoCount,                     \
     int* returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace,          \
     size_t workSpaceSizeInBytes),                                                                     \
    (handle, wDesc, w, dyDesc, dy, convDesc, dxDesc, dx, requestedAlgoCount, returnedAlgoCount,        \
     perfResults, workSpace, workSpaceSizeInBytes))                                                    \
  X(cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithm_v7,                                        \
    (cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,                                   \
     const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,              \
     const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,     \
     cudnnConvolutionBwdDataAlgoPerf_t* perfResults),                                                  \
    (handle, filterDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount,          \
     perfResults))                                                                                     \
  X(cudnnStatus_t, cudnnGetConvolutionBackwardDataWorkspaceSize,                                       \
    (cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,  \
     const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,                \
     cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes),                                         \
    (handle, wDesc, dyDesc, convDesc, dxDesc, algo, sizeInBytes))                                      \
  X(cudnnStatus_t, cudnnConvolutionBackwardData,                                                       \
    (cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wDesc, const void* w,      \
     const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc, \
     cudnnConvolutionBwdDataAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes,                 \
     const void* beta, const cudnnTensorDescriptor_t dxDesc, void* dx),                                \
    (handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta,       \
     dxDesc, dx))                                                                                      \
  X(cudnnStatus_t, cudnnFindConvolutionBackwardFilterAlgorithmEx,                                      \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,                         \
     const cudnnTensorDescriptor_t dyDesc, const void* y, const cudnnConvolutionDescriptor_t convDesc, \
     const cudnnFilterDescriptor_t dwDesc, void* dw, const int requestedAlgoCount,                     \
     int* returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace,        \
     size_t workSpaceSizeInBytes),                                                                     \
    (handle, xDesc, x, dyDesc, y, convDesc, dwDesc, dw, requestedAlgoCount, returnedAlgoCount,         \
     perfResults, workSpace, workSpaceSizeInBytes))                                                    \
  X(cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithm_v7,                                      \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,                                      \
     const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,              \
     const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,     \
     cudnnConvolutionBwdFilterAlgoPerf_t* perfResults),                                                \
    (handle, srcDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount,             \
     perfResults))                                                                                     \
  X(cudnnStatus_t, cudnnGetConvolutionBackwardFilterWorkspaceSize,                                     \
    (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,  \
     const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,              \
     cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes),                                       \
    (handle, xDesc, dyDesc, convDesc, gradDesc, algo, sizeInBytes))                                    \
  X(cudnnStatus_t, cudnnConvolutionBackwardFilter,                                                     \
    (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,      \
     const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc, \
     cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes,               \
     const void* beta, const cudnnFilterDescriptor_t dwDesc, void* dw),                                \
    (handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta,       \
     dwDesc, dw))                                                                                      \
  X(cudnnStatus_t, cudnnConvolutionBackwardBias,                                                       \
    (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t dyDesc, const void* dy,    \
     const void* beta, const cudnnTensorDescriptor_t dbDesc, void* db),                                \
    (handle, alpha, dyDesc, dy, beta, dbDesc, db))

// cudnn_graph.h: the graph (backend) API. Called by the fused convolution only (conv_bn_stats.cc),
// never at load time: optional symbols (dynload_symbols.cc).
#define CR_CUDNN_BACKEND_FUNCTIONS(X)                                                                  \
  X(cudnnStatus_t, cudnnBackendCreateDescriptor,                                                       \
    (cudnnBackendDescriptorType_t descriptorType, cudnnBackendDescriptor_t* descriptor),               \
    (descriptorType, descriptor))                                                                      \
  X(cudnnStatus_t, cudnnBackendDestroyDescriptor, (cudnnBackendDescriptor_t descriptor), (descriptor)) \
  X(cudnnStatus_t, cudnnBackendFinalize, (cudnnBackendDescriptor_t descriptor), (descriptor))          \
  X(cudnnStatus_t, cudnnBackendSetAttribute,                                                           \
    (cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t attributeName,                   \
     cudnnBackendAttributeType_t attributeType, int64_t elementCount, const void* arrayOfElements),    \
    (descriptor, attributeName, attributeType, elementCount, arrayOfElements))                         \
  X(cudnnStatus_t, cudnnBackendGetAttribute,                                                           \
    (cudnnBackendDescriptor_t const descriptor, cudnnBackendAttributeName_t attributeName,             \
     cudnnBackendAttributeType_t attributeType, int64_t requestedElementCount, int64_t* elementCount,  \
     void* arrayOfElements),                                                                           \
    (descriptor, attributeName, attributeType, requestedElementCount, elementCount, arrayOfElements))  \
  X(cudnnStatus_t, cudnnBackendExecute,                                                                \
    (cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan, cudnnBackendDescriptor_t variantPack), \
    (handle, executionPlan, variantPack))

// Every cuDNN function the project calls; each one is resolved when the library is loaded.
#define CR_CUDNN_FUNCTIONS(X) \
  CR_CUDNN_GRAPH_FUNCTIONS(X) \
  CR_CUDNN_OPS_FUNCTIONS(X)   \
  CR_CUDNN_CNN_FUNCTIONS(X)   \
  CR_CUDNN_BACKEND_FUNCTIONS(X)

namespace cr::dnn {

#define CR_DNN_DECLARE_FUNCTION(ret, name, params, args) ret name params;
CR_CUDNN_FUNCTIONS(CR_DNN_DECLARE_FUNCTION)
#undef CR_DNN_DECLARE_FUNCTION

}  // namespace cr::dnn
