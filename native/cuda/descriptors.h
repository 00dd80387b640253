// RAII wrappers of the cuDNN descriptors the ops build, one per call (they are cheap).
#pragma once
#include "../core/tensor.h"
#include "../ops/conv2d.h"
#include "cudnn_api.h"

namespace cr::cuda {

// CUDNN_DATA_FLOAT / _HALF / _BFLOAT16 for the float dtypes; TypeError otherwise.
dnn::cudnnDataType_t cudnnType(DType dtype);

// A 4-D tensor descriptor: (N, C, H, W) with the tensor's dtype, laid out NCHW or NHWC by its
// memory format. A 2-D (N, C) tensor is described as (N, C, 1, 1).
class TensorDesc {
 public:
  explicit TensorDesc(const Tensor& t);
  TensorDesc(const Shape& nchw, DType dtype, MemoryFormat format);
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  dnn::cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  dnn::cudnnTensorDescriptor_t desc_ = nullptr;
};

// A filter descriptor for weights (O, C / groups, kH, kW), NCHW or NHWC by the weight's format.
class FilterDesc {
 public:
  explicit FilterDesc(const Tensor& weight);
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  dnn::cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  dnn::cudnnFilterDescriptor_t desc_ = nullptr;
};

// A 2-D convolution descriptor (cross-correlation, groups), accumulating in `compute`
// (float32 for float32/float16/bfloat16 data); tensor-op math when allowTensorOps (TF32 for
// float32 data), CUDNN_FMA_MATH otherwise (CUDNN_DEFAULT_MATH would still allow TF32 on Ampere
// and newer; FMA math keeps float32 exact).
class ConvDesc {
 public:
  ConvDesc(const Conv2dParams& p, DType compute, bool allowTensorOps);
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  dnn::cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  dnn::cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// An activation descriptor: mode (RELU or IDENTITY for the fused convolution), NaN handling, and
// coef (the ceiling of CLIPPED_RELU, the alpha of ELU; ignored by RELU and IDENTITY).
class ActivationDesc {
 public:
  ActivationDesc(dnn::cudnnActivationMode_t mode, dnn::cudnnNanPropagation_t nan, double coef);
  ~ActivationDesc();
  ActivationDesc(const ActivationDesc&) = delete;
  ActivationDesc& operator=(const ActivationDesc&) = delete;
  dnn::cudnnActivationDescriptor_t get() const { return desc_; }

 private:
  dnn::cudnnActivationDescriptor_t desc_ = nullptr;
};

}  // namespace cr::cuda
