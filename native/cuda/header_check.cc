// A compile-time check that the project's own declarations (cudnn_api.h, cublas_api.h) match
// NVIDIA's real cuDNN 9 and cuBLAS headers: every enumerator value, the size of every enum, the
// size, field offsets and field types of every struct, that the handle and descriptor types are
// pointers to the same opaque structs, and the complete signature of every function (parameter
// and return types, with our types mapped to theirs). The lists come from the same X-macros that
// declare them, so nothing declared can escape the check.
//
// Compiled only with -fsyntax-only by scripts/gpu/header-check.sh on a machine that has the real
// headers (cudnn.h of cuDNN 9, which includes cudnn_graph.h, cudnn_ops.h and cudnn_cnn.h, and
// cublas_v2.h / cublas_api.h), and by test/header_check.test.ts against the stand-ins in
// test/fixtures/nvidia_headers (shaped like those headers, overloads included) on every machine;
// it is not part of the addon's build. Ours live in namespaces
// cr::dnn and cr::blas, so both sets of declarations coexist in this one file.
#include "cublas_api.h"
#include "cudnn_api.h"

// The real cudnn_ops.h defines CUDNN_BN_MIN_EPSILON as a macro, which would rewrite our constant's
// name once it is included: take our value first.
namespace cr_header_check {
constexpr double ourBnMinEpsilon = cr::dnn::CUDNN_BN_MIN_EPSILON;
}

#include <cublas_v2.h>
#include <cudnn.h>

#include <cstddef>
#include <tuple>
#include <type_traits>

#define CR_CHECK_VALUE(what) "header check value: " what
#define CR_CHECK_LAYOUT(what) "header check layout: " what
#define CR_CHECK_SIGNATURE(what) "header check signature: " what

static_assert(CUDNN_MAJOR == 9, "header check: the cuDNN headers found are not cuDNN 9");
static_assert(CUBLAS_VER_MAJOR >= 12, "header check: the cuBLAS headers found are older than cuBLAS 12");

namespace cr_header_check {

// Real<T>::type is T with every cr::dnn / cr::blas type replaced by the real header's type.
template <typename T>
struct Real {
  using type = T;
};
template <typename T>
using RealType = typename Real<T>::type;
template <typename T>
struct Real<T*> {
  using type = RealType<T>*;
};
template <typename T>
struct Real<const T> {
  using type = const RealType<T>;
};
template <typename T, size_t N>
struct Real<T[N]> {
  using type = RealType<T>[N];
};
template <typename R, typename... Args>
struct Real<R(Args...)> {
  using type = RealType<R>(RealType<Args>...);
};

#define CR_MAP_TYPE(ours, real) \
  template <>                   \
  struct Real<ours> {           \
    using type = real;          \
  };

// Opaque structs behind the handle and descriptor types.
CR_MAP_TYPE(cr::dnn::cudnnContext, ::cudnnContext)
CR_MAP_TYPE(cr::dnn::cudnnTensorStruct, ::cudnnTensorStruct)
CR_MAP_TYPE(cr::dnn::cudnnFilterStruct, ::cudnnFilterStruct)
CR_MAP_TYPE(cr::dnn::cudnnConvolutionStruct, ::cudnnConvolutionStruct)
CR_MAP_TYPE(cr::dnn::cudnnActivationStruct, ::cudnnActivationStruct)
CR_MAP_TYPE(cr::blas::cublasContext, ::cublasContext)

// Enums: each also checked for size (the ABI passes them as that many bytes).
#define CR_CUDNN_ENUM_TYPES(X)            \
  X(cudnnStatus_t)                        \
  X(cudnnDataType_t)                      \
  X(cudnnMathType_t)                      \
  X(cudnnNanPropagation_t)                \
  X(cudnnTensorFormat_t)                  \
  X(cudnnActivationMode_t)                \
  X(cudnnConvolutionMode_t)               \
  X(cudnnDeterminism_t)                   \
  X(cudnnPoolingMode_t)                   \
  X(cudnnBatchNormMode_t)                 \
  X(cudnnBatchNormOps_t)                  \
  X(cudnnConvolutionFwdAlgo_t)            \
  X(cudnnConvolutionBwdDataAlgo_t)        \
  X(cudnnConvolutionBwdFilterAlgo_t)      \
  X(cudnnBackendDescriptorType_t)         \
  X(cudnnBackendAttributeName_t)          \
  X(cudnnBackendAttributeType_t)          \
  X(cudnnPointwiseMode_t)                 \
  X(cudnnGenStatsMode_t)                  \
  X(cudnnBackendHeurMode_t)               \
  X(cudnnBackendNumericalNote_t)
#define CR_CUBLAS_ENUM_TYPES(X) \
  X(cublasStatus_t)             \
  X(cublasOperation_t)          \
  X(cublasMath_t)               \
  X(cublasComputeType_t)        \
  X(cublasGemmAlgo_t)

#define CR_MAP_DNN_ENUM(name)              \
  CR_MAP_TYPE(cr::dnn::name, ::name)       \
  static_assert(sizeof(cr::dnn::name) == sizeof(::name), CR_CHECK_LAYOUT("sizeof " #name));
#define CR_MAP_BLAS_ENUM(name)             \
  CR_MAP_TYPE(cr::blas::name, ::name)      \
  static_assert(sizeof(cr::blas::name) == sizeof(::name), CR_CHECK_LAYOUT("sizeof " #name));
CR_CUDNN_ENUM_TYPES(CR_MAP_DNN_ENUM)
CR_CUBLAS_ENUM_TYPES(CR_MAP_BLAS_ENUM)

// Structs, field by field.
#define CR_CUDNN_PERF_STRUCTS(X)                  \
  X(cudnnConvolutionFwdAlgoPerf_t)                \
  X(cudnnConvolutionBwdDataAlgoPerf_t)            \
  X(cudnnConvolutionBwdFilterAlgoPerf_t)
#define CR_MAP_DNN_STRUCT(name) CR_MAP_TYPE(cr::dnn::name, ::name)
CR_CUDNN_PERF_STRUCTS(CR_MAP_DNN_STRUCT)

#define CR_CHECK_FIELD(name, field)                                                                 \
  static_assert(offsetof(cr::dnn::name, field) == offsetof(::name, field),                          \
                CR_CHECK_LAYOUT("offsetof " #name "." #field));                                     \
  static_assert(std::is_same_v<RealType<decltype(cr::dnn::name::field)>, decltype(::name::field)>,  \
                CR_CHECK_LAYOUT("type of " #name "." #field));
#define CR_CHECK_PERF_STRUCT(name)                                                                  \
  static_assert(sizeof(cr::dnn::name) == sizeof(::name), CR_CHECK_LAYOUT("sizeof " #name));        \
  static_assert(alignof(cr::dnn::name) == alignof(::name), CR_CHECK_LAYOUT("alignof " #name));      \
  CR_CHECK_FIELD(name, algo)                                                                        \
  CR_CHECK_FIELD(name, status)                                                                      \
  CR_CHECK_FIELD(name, time)                                                                        \
  CR_CHECK_FIELD(name, memory)                                                                      \
  CR_CHECK_FIELD(name, determinism)                                                                 \
  CR_CHECK_FIELD(name, mathType)                                                                    \
  CR_CHECK_FIELD(name, reserved)
CR_CUDNN_PERF_STRUCTS(CR_CHECK_PERF_STRUCT)

// Handle and descriptor types: pointers to the same opaque structs (the graph API's descriptors
// are void pointers in both).
#define CR_CUDNN_POINTER_TYPES(X) \
  X(cudnnHandle_t)                \
  X(cudnnTensorDescriptor_t)      \
  X(cudnnFilterDescriptor_t)      \
  X(cudnnConvolutionDescriptor_t) \
  X(cudnnActivationDescriptor_t) \
  X(cudnnBackendDescriptor_t)
#define CR_CHECK_DNN_POINTER(name)                                                                  \
  static_assert(std::is_pointer_v<cr::dnn::name>, CR_CHECK_LAYOUT(#name " is a pointer"));          \
  static_assert(std::is_same_v<RealType<cr::dnn::name>, ::name>, CR_CHECK_LAYOUT(#name " type"));
CR_CUDNN_POINTER_TYPES(CR_CHECK_DNN_POINTER)
static_assert(std::is_pointer_v<cr::blas::cublasHandle_t>, CR_CHECK_LAYOUT("cublasHandle_t is a pointer"));
static_assert(std::is_same_v<RealType<cr::blas::cublasHandle_t>, ::cublasHandle_t>,
              CR_CHECK_LAYOUT("cublasHandle_t type"));

// Enumerator values.
#define CR_CHECK_DNN_VALUE(name, value)                                                             \
  static_assert(static_cast<long long>(cr::dnn::name) == static_cast<long long>(::name),            \
                CR_CHECK_VALUE(#name));
#define CR_CHECK_DNN_LIST(list) list(CR_CHECK_DNN_VALUE)
CR_CUDNN_ENUM_LISTS(CR_CHECK_DNN_LIST)
#if CUDNN_VERSION >= 91800
CR_CUDNN_STATUS_VALUES_SINCE_9_18(CR_CHECK_DNN_VALUE)
#endif
static_assert(ourBnMinEpsilon == CUDNN_BN_MIN_EPSILON, CR_CHECK_VALUE("CUDNN_BN_MIN_EPSILON"));

#define CR_CHECK_BLAS_VALUE(name, value)                                                            \
  static_assert(static_cast<long long>(cr::blas::name) == static_cast<long long>(::name),           \
                CR_CHECK_VALUE(#name));
#define CR_CHECK_BLAS_LIST(list) list(CR_CHECK_BLAS_VALUE)
CR_CUBLAS_ENUM_LISTS(CR_CHECK_BLAS_LIST)

// Function signatures. A name may be overloaded in C++: cublas_api.h follows its exported
// cublasGemmEx (computeType cublasComputeType_t) with a static inline wrapper of the same name
// (computeType cudaDataType), so decltype(::name) would be ill-formed. Instead, static_cast to our
// function type, mapped to the real types, picks the overload of exactly that type; Declares<> is
// true when one exists (a name with no overload of that type makes the cast ill-formed, and false).
#define CR_DECLARES(name)                                                                            \
  template <typename F, typename = void>                                                             \
  struct Declares_##name : std::false_type {};                                                       \
  template <typename F>                                                                              \
  struct Declares_##name<F, std::void_t<decltype(static_cast<F*>(&::name))>> : std::true_type {};
#define CR_CHECK_DNN_FUNCTION(ret, name, params, args)                                              \
  CR_DECLARES(name)                                                                                 \
  static_assert(Declares_##name<RealType<decltype(cr::dnn::name)>>::value, CR_CHECK_SIGNATURE(#name));
CR_CUDNN_FUNCTIONS(CR_CHECK_DNN_FUNCTION)
#define CR_CHECK_BLAS_FUNCTION(ret, name, params, args)                                             \
  CR_DECLARES(name)                                                                                 \
  static_assert(Declares_##name<RealType<decltype(cr::blas::name)>>::value, CR_CHECK_SIGNATURE(#name));
CR_CUBLAS_FUNCTIONS(CR_CHECK_BLAS_FUNCTION)

// The overload the trampoline resolves by name (dlsym "cublasGemmEx") is the exported one; ours must
// be its type, never the wrapper's: its computeType (parameter 17) is cublasComputeType_t.
template <size_t I, typename F>
struct Parameter;
template <size_t I, typename R, typename... Args>
struct Parameter<I, R(Args...)> {
  using type = std::tuple_element_t<I, std::tuple<Args...>>;
};
static_assert(std::is_same_v<Parameter<17, RealType<decltype(cr::blas::cublasGemmEx)>>::type, ::cublasComputeType_t>,
              CR_CHECK_SIGNATURE("cublasGemmEx takes cublasComputeType_t (the exported function, not the wrapper)"));

}  // namespace cr_header_check
