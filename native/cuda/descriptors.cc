// The cuDNN descriptor wrappers of descriptors.h. Each constructor creates and sets its
// descriptor (destroying it again if setting fails); destructors never throw.
#include "descriptors.h"

#include <climits>

#include "../core/error.h"
#include "dynload.h"

namespace cr::cuda {
namespace {

// cuDNN's legacy API takes sizes as int.
int toInt(int64_t value, const char* what) {
  CR_CHECK_RANGE(value >= INT_MIN && value <= INT_MAX, "cuDNN: ", what, " ", value, " does not fit in 32 bits");
  return static_cast<int>(value);
}

dnn::cudnnTensorFormat_t cudnnFormat(MemoryFormat format) {
  return format == MemoryFormat::ChannelsLast ? dnn::CUDNN_TENSOR_NHWC : dnn::CUDNN_TENSOR_NCHW;
}

// Runs set(desc) on a freshly created descriptor; destroys it and rethrows when set throws.
template <typename Desc, typename Destroy, typename Set>
Desc createAndSet(Desc desc, Destroy destroy, Set set) {
  try {
    set(desc);
  } catch (...) {
    destroy(desc);
    throw;
  }
  return desc;
}

}  // namespace

dnn::cudnnDataType_t cudnnType(DType dtype) {
  switch (dtype) {
    case DType::Float32: return dnn::CUDNN_DATA_FLOAT;
    case DType::Float16: return dnn::CUDNN_DATA_HALF;
    case DType::BFloat16: return dnn::CUDNN_DATA_BFLOAT16;
    default: break;
  }
  CR_CHECK_TYPE(false, "cuDNN ops take float32, float16 or bfloat16 tensors, got ", dtypeName(dtype));
  return dnn::CUDNN_DATA_FLOAT;
}

TensorDesc::TensorDesc(const Tensor& t) : TensorDesc(t.shape, t.dtype, t.format) {}

TensorDesc::TensorDesc(const Shape& nchw, DType dtype, MemoryFormat format) {
  CR_CHECK_RANGE(nchw.size() == 4 || nchw.size() == 2,
                 "cuDNN tensor descriptor: expected a 2-D (N, C) or 4-D (N, C, H, W) tensor, got shape ",
                 shapeString(nchw));
  for (int64_t size : nchw) {
    CR_CHECK_RANGE(size >= 1, "cuDNN tensor descriptor: every dimension must be at least 1, got shape ",
                   shapeString(nchw));
  }
  CR_CHECK_RANGE(numelOf(nchw) <= INT_MAX, "cuDNN tensor descriptor: tensors of more than 2^31 - 1 elements are ",
                 "not supported, got shape ", shapeString(nchw));
  const int n = toInt(nchw[0], "batch size");
  const int c = toInt(nchw[1], "channel count");
  const int h = nchw.size() == 4 ? toInt(nchw[2], "height") : 1;
  const int w = nchw.size() == 4 ? toInt(nchw[3], "width") : 1;
  // (N, C, 1, 1) has the same strides in both layouts; 2-D tensors are always described NCHW.
  const dnn::cudnnTensorFormat_t layout = nchw.size() == 4 ? cudnnFormat(format) : dnn::CUDNN_TENSOR_NCHW;
  const dnn::cudnnDataType_t type = cudnnType(dtype);

  dnn::cudnnTensorDescriptor_t created = nullptr;
  CR_CUDNN_CHECK(dnn::cudnnCreateTensorDescriptor(&created));
  desc_ = createAndSet(created, dnn::cudnnDestroyTensorDescriptor, [&](dnn::cudnnTensorDescriptor_t d) {
    CR_CUDNN_CHECK(dnn::cudnnSetTensor4dDescriptor(d, layout, type, n, c, h, w));
  });
}

TensorDesc::~TensorDesc() {
  try {
    if (desc_ != nullptr) dnn::cudnnDestroyTensorDescriptor(desc_);
  } catch (...) {
  }
}

FilterDesc::FilterDesc(const Tensor& weight) {
  CR_CHECK_RANGE(weight.dim() == 4, "cuDNN filter descriptor: expected a 4-D weight (O, C / groups, kH, kW), got shape ",
                 shapeString(weight.shape));
  for (int64_t size : weight.shape) {
    CR_CHECK_RANGE(size >= 1, "cuDNN filter descriptor: every dimension must be at least 1, got shape ",
                   shapeString(weight.shape));
  }
  const int k = toInt(weight.shape[0], "output channel count");
  const int c = toInt(weight.shape[1], "input channels per group");
  const int h = toInt(weight.shape[2], "kernel height");
  const int w = toInt(weight.shape[3], "kernel width");
  const dnn::cudnnDataType_t type = cudnnType(weight.dtype);
  const dnn::cudnnTensorFormat_t layout = cudnnFormat(weight.format);

  dnn::cudnnFilterDescriptor_t created = nullptr;
  CR_CUDNN_CHECK(dnn::cudnnCreateFilterDescriptor(&created));
  desc_ = createAndSet(created, dnn::cudnnDestroyFilterDescriptor, [&](dnn::cudnnFilterDescriptor_t d) {
    CR_CUDNN_CHECK(dnn::cudnnSetFilter4dDescriptor(d, type, layout, k, c, h, w));
  });
}

FilterDesc::~FilterDesc() {
  try {
    if (desc_ != nullptr) dnn::cudnnDestroyFilterDescriptor(desc_);
  } catch (...) {
  }
}

ConvDesc::ConvDesc(const Conv2dParams& p, DType compute, bool allowTensorOps) {
  const int padH = toInt(p.padH, "padding");
  const int padW = toInt(p.padW, "padding");
  const int strideH = toInt(p.strideH, "stride");
  const int strideW = toInt(p.strideW, "stride");
  const int dilationH = toInt(p.dilationH, "dilation");
  const int dilationW = toInt(p.dilationW, "dilation");
  const int groups = toInt(p.groups, "group count");
  CR_CHECK_RANGE(padH >= 0 && padW >= 0 && strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1 &&
                     groups >= 1,
                 "cuDNN convolution descriptor: padding must be >= 0 and stride, dilation and groups >= 1");
  const dnn::cudnnDataType_t type = cudnnType(compute);
  // CUDNN_FMA_MATH is the math type that keeps float32 exact: CUDNN_DEFAULT_MATH would still let
  // cuDNN pick TF32 tensor-core kernels on Ampere and newer GPUs.
  const dnn::cudnnMathType_t math = allowTensorOps ? dnn::CUDNN_TENSOR_OP_MATH : dnn::CUDNN_FMA_MATH;

  dnn::cudnnConvolutionDescriptor_t created = nullptr;
  CR_CUDNN_CHECK(dnn::cudnnCreateConvolutionDescriptor(&created));
  desc_ = createAndSet(created, dnn::cudnnDestroyConvolutionDescriptor, [&](dnn::cudnnConvolutionDescriptor_t d) {
    CR_CUDNN_CHECK(dnn::cudnnSetConvolution2dDescriptor(d, padH, padW, strideH, strideW, dilationH, dilationW,
                                                        dnn::CUDNN_CROSS_CORRELATION, type));
    CR_CUDNN_CHECK(dnn::cudnnSetConvolutionGroupCount(d, groups));
    CR_CUDNN_CHECK(dnn::cudnnSetConvolutionMathType(d, math));
  });
}

ConvDesc::~ConvDesc() {
  try {
    if (desc_ != nullptr) dnn::cudnnDestroyConvolutionDescriptor(desc_);
  } catch (...) {
  }
}

ActivationDesc::ActivationDesc(dnn::cudnnActivationMode_t mode, dnn::cudnnNanPropagation_t nan, double coef) {
  dnn::cudnnActivationDescriptor_t created = nullptr;
  CR_CUDNN_CHECK(dnn::cudnnCreateActivationDescriptor(&created));
  desc_ = createAndSet(created, dnn::cudnnDestroyActivationDescriptor, [&](dnn::cudnnActivationDescriptor_t d) {
    CR_CUDNN_CHECK(dnn::cudnnSetActivationDescriptor(d, mode, nan, coef));
  });
}

ActivationDesc::~ActivationDesc() {
  try {
    if (desc_ != nullptr) dnn::cudnnDestroyActivationDescriptor(desc_);
  } catch (...) {
  }
}

}  // namespace cr::cuda
