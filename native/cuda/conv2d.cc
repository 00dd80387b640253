// 2-D convolution on the GPU with cuDNN, the twin of native/cpu/conv2d.cc: same checks and errors,
// same outputs (y and dx in x's memory format, dbias contiguous) except that dweight comes back in
// the weight's own format (the CPU returns it contiguous), so a channels-last model needs no
// layout conversion in its backward pass or optimizer step.
//   forward:   cudnnConvolutionForward, then + bias with cudnnAddTensor ((1, O, 1, 1) broadcast)
//   backward:  cudnnConvolutionBackwardData (dx), cudnnConvolutionBackwardFilter (dweight),
//              dbias by the project's reduction (cudnnConvolutionBackwardBias for 16-bit data); only the
//              requested grads are computed.
// cudnnAddTensor and cudnnConvolutionBackwardBias fall back to the project's kernels where cuDNN
// declines them (fallback.h).
// Algorithms come from conv_algos (benchmarked once per configuration, cached). x, w and y are
// described in one layout, x's: cuDNN's NHWC engines want the filter NHWC too, so the weight (and dy)
// are converted to x's format for the call (a no-op when model and input share a format), and dweight,
// computed in x's format, is converted to the weight's. float16 and bfloat16 data accumulate in float32.
// Empty tensors (a zero batch, channel or spatial size) never reach cuDNN, whose descriptors need
// positive sizes: the results are then zeros (plus the bias), as on the CPU.
// convBiasAct (inference): act(conv + bias + z) in one cudnnConvolutionBiasActivationForward where cuDNN
// takes the configuration, else conv2d then the project's kernels (see convBiasAct).
#include <atomic>
#include <climits>

#include "../core/error.h"
#include "conv_algos.h"
#include "descriptors.h"
#include "dynload.h"
#include "fallback.h"
#include "handles.h"
#include "kernels/add_relu.h"
#include "ops.h"
#include "runtime.h"

namespace cr::cuda {
namespace {

constexpr const char* kOp = "conv2d";
constexpr const char* kFusedOp = "convBiasAct";

std::atomic<bool> gAllowTf32{false};

void expectGpuFloat(const char* op, const char* arg, const Tensor& t) {
  CR_CHECK_TYPE(t.device == Device::CUDA, op, ": ", arg, " must be on the GPU");
  CR_CHECK_TYPE(t.dtype == DType::Float32 || t.dtype == DType::Float16 || t.dtype == DType::BFloat16, op, ": ",
                arg, " must be float32, float16 or bfloat16, got ", dtypeName(t.dtype));
}

void expectDtypeOfX(const char* op, const char* arg, const Tensor& t, const Tensor& x) {
  CR_CHECK_TYPE(t.dtype == x.dtype, op, ": ", arg, " must have x's dtype ", dtypeName(x.dtype), ", got ",
                dtypeName(t.dtype));
}

// The checks of a forward convolution's x, weight and optional bias (O); returns y's shape (N, O, Ho, Wo).
Shape checkForward(const char* op, const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  expectGpuFloat(op, "x", x);
  expectGpuFloat(op, "weight", weight);
  expectDtypeOfX(op, "weight", weight, x);
  Shape yShape = conv2dOutputShape(x.shape, weight.shape, p);
  if (bias) {
    expectGpuFloat(op, "bias", *bias);
    expectDtypeOfX(op, "bias", *bias, x);
    expectShape(op, "bias", *bias, {yShape[1]});
  }
  return yShape;
}

// cuDNN's legacy descriptors index with int.
void expectIndexable(const char* op, const char* arg, const Tensor& t) {
  CR_CHECK_RANGE(t.numel() <= INT_MAX, op, ": ", arg, " has ", t.numel(),
                 " elements; the GPU convolution supports at most 2^31 - 1 per tensor");
}

Tensor inFormat(const Tensor& t, MemoryFormat format) {
  return t.format == format ? t : cuda::toFormat(t, format);
}

// Tensor-op math: always for float16 / bfloat16 data (the products are exact in float32 and
// accumulate in float32), for float32 data only when TF32 is allowed.
bool tensorOpsFor(DType dtype) { return dtype != DType::Float32 || allowTf32(); }

const void* dataOf(const Tensor& t) { return t.storage->data; }
void* mutableDataOf(const Tensor& t) { return t.storage->data; }

// The scaling factors of cuDNN calls on float, half and bfloat16 data are floats.
const float kOne = 1.0f, kZero = 0.0f;

// y + bias (O) broadcast over (N, H, W) by the project's float32 kernels, in y's dtype and format.
Tensor addBiasByKernels(const Tensor& y, const Tensor& bias) {
  const Tensor y32 = y.dtype == DType::Float32 ? y : cuda::cast(y, DType::Float32);
  const Tensor bias32 = bias.dtype == DType::Float32 ? bias : cuda::cast(bias, DType::Float32);
  Tensor sum = cuda::binary(BinaryOp::Add, y32, view(bias32, {1, y.shape[1], 1, 1}));  // contiguous
  sum = inFormat(sum, y.format);
  return sum.dtype == y.dtype ? sum : cuda::cast(sum, y.dtype);
}

// y += bias, broadcast over (N, H, W), with cudnnAddTensor; by the project's kernels where cuDNN
// declines it (bfloat16 on some versions). Returns y, or the new tensor holding the sum.
Tensor addBias(const Tensor& y, const TensorDesc& yDesc, const Tensor& bias) {
  TensorDesc biasDesc({1, y.shape[1], 1, 1}, bias.dtype, MemoryFormat::Contiguous);
  const dnn::cudnnStatus_t status = siteStatus(FallbackSite::AddTensor, [&] {
    return dnn::cudnnAddTensor(cudnnHandle(), &kOne, biasDesc.get(), dataOf(bias), &kOne, yDesc.get(), mutableDataOf(y));
  });
  if (fallsBack(FallbackSite::AddTensor, status)) return addBiasByKernels(y, bias);
  checkCudnn(status, "cudnnAddTensor", __FILE__, __LINE__);
  return y;
}

// dbias (O) = the sum of dy over (N, H, W), in dy's dtype, by the project's reduction.
Tensor biasGradByKernels(const Tensor& dy) {
  const Tensor dy32 = dy.dtype == DType::Float32 ? dy : cuda::cast(dy, DType::Float32);
  const Tensor sum = cuda::reduceSum(dy32, {0, 2, 3}, false);
  return sum.dtype == dy.dtype ? sum : cuda::cast(sum, dy.dtype);
}

// The forward pass's operands for conv_algos: the key that conv2d and convBiasAct share, so that
// both use the algorithm benchmarked once per configuration.
ConvArgs forwardArgs(const Tensor& x, const Tensor& w, const Tensor& y, const TensorDesc& xDesc,
                     const FilterDesc& wDesc, const TensorDesc& yDesc, ConvDesc& convDesc, const Conv2dParams& p,
                     bool tensorOps) {
  ConvArgs args;
  args.key = makeConvKey(ConvPass::Forward, x.shape, w.shape, p, x.dtype, x.format, tensorOps, deterministic());
  args.x = &xDesc, args.xData = dataOf(x);
  args.w = &wDesc, args.wData = dataOf(w);
  args.y = &yDesc, args.yData = dataOf(y);
  args.conv = &convDesc;
  args.out = mutableDataOf(y);
  return args;
}

// convBiasAct as conv2d (with the bias), then + z and the ReLU with the project's float32
// kernels; 16-bit results are widened for them and rounded back to x's dtype.
Tensor convBiasActComposed(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* z, bool relu,
                           const Conv2dParams& p) {
  Tensor y = cuda::conv2d(x, weight, bias, p);  // (N, O, Ho, Wo), x's dtype and format
  if (!z && !relu) return y;
  Tensor sum = y.dtype == DType::Float32 ? y : cuda::cast(y, DType::Float32);
  if (z) {
    Tensor residual = z->dtype == DType::Float32 ? *z : cuda::cast(*z, DType::Float32);
    if (relu) {
      cuda::addReluInPlace(sum, residual);
    } else {
      sum = cuda::binary(BinaryOp::Add, sum, residual);
    }
  } else {
    sum = cuda::relu(sum);
  }
  return sum.dtype == y.dtype ? sum : cuda::cast(sum, y.dtype);
}

// The plan of an IDENTITY-activation fused call, which cuDNN runs only with
// CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: that algorithm, float32 data with the math type
// conv_algos searches it with, and the algorithm's workspace. False when cuDNN declines the algorithm
// for this configuration.
bool precompGemmPlan(const TensorDesc& xDesc, const FilterDesc& wDesc, const ConvDesc& convDesc,
                     const TensorDesc& yDesc, DType dtype, bool tensorOps, ConvPlan* plan) {
  if (dtype == DType::Float32)
    CR_CUDNN_CHECK(dnn::cudnnSetConvolutionMathType(convDesc.get(),
                                                    tensorOps ? dnn::CUDNN_DEFAULT_MATH : dnn::CUDNN_FMA_MATH));
  const dnn::cudnnConvolutionFwdAlgo_t algo = dnn::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t bytes = 0;
  const dnn::cudnnStatus_t status = dnn::cudnnGetConvolutionForwardWorkspaceSize(
      cudnnHandle(), xDesc.get(), wDesc.get(), convDesc.get(), yDesc.get(), algo, &bytes);
  if (fallsBack(FallbackSite::BiasActivation, status)) return false;
  checkCudnn(status, "cudnnGetConvolutionForwardWorkspaceSize", __FILE__, __LINE__);
  plan->algo = static_cast<int>(algo);
  plan->workspace = workspace(bytes);
  plan->workspaceBytes = bytes;
  return true;
}

}  // namespace

void setAllowTf32(bool allow) { gAllowTf32.store(allow); }
bool allowTf32() { return gAllowTf32.load(); }

Tensor conv2d(const Tensor& x, const Tensor& weightIn, const Tensor* bias, const Conv2dParams& p) {
  Shape yShape = checkForward(kOp, x, weightIn, bias, p);  // (N, O, Ho, Wo)
  // Every window reads only padding (or there are no input channels) when x or the weight is empty: y = bias.
  const bool trivial = x.numel() == 0 || weightIn.numel() == 0;
  Tensor y = trivial ? cuda::zeros(yShape, x.dtype, x.format) : cuda::empty(yShape, x.dtype, x.format);
  if (y.numel() == 0) return y;
  expectIndexable(kOp, "x", x);
  expectIndexable(kOp, "y", y);
  TensorDesc yDesc(y);
  if (!trivial) {
    Tensor w = inFormat(weightIn, x.format);  // (O, C / groups, kH, kW), laid out like x
    TensorDesc xDesc(x);
    FilterDesc wDesc(w);
    bool tensorOps = tensorOpsFor(x.dtype);
    ConvDesc convDesc(p, DType::Float32, tensorOps);
    ConvPlan plan = planConvolution(forwardArgs(x, w, y, xDesc, wDesc, yDesc, convDesc, p, tensorOps));
    CR_CUDNN_CHECK(dnn::cudnnConvolutionForward(cudnnHandle(), &kOne, xDesc.get(), dataOf(x), wDesc.get(),
                                                dataOf(w), convDesc.get(),
                                                static_cast<dnn::cudnnConvolutionFwdAlgo_t>(plan.algo),
                                                plan.workspace, plan.workspaceBytes, &kZero, yDesc.get(),
                                                mutableDataOf(y)));
  }
  if (bias) y = addBias(y, yDesc, *bias);
  return y;
}

Conv2dGrads conv2dBackward(const Tensor& dyIn, const Tensor& x, const Tensor& weightIn, const Conv2dParams& p,
                           bool needDx, bool needDweight, bool needDbias) {
  expectGpuFloat(kOp, "dy", dyIn);
  expectGpuFloat(kOp, "x", x);
  expectGpuFloat(kOp, "weight", weightIn);
  expectDtypeOfX(kOp, "dy", dyIn, x);
  expectDtypeOfX(kOp, "weight", weightIn, x);
  Shape yShape = conv2dOutputShape(x.shape, weightIn.shape, p);  // (N, O, Ho, Wo)
  expectShape(kOp, "dy", dyIn, yShape);
  Conv2dGrads grads;
  if (!needDx && !needDweight && !needDbias) return grads;
  expectIndexable(kOp, "x", x);
  expectIndexable(kOp, "dy", dyIn);

  const DType dtype = x.dtype;
  const bool dyEmpty = dyIn.numel() == 0;
  Tensor dy = dyEmpty ? dyIn : inFormat(dyIn, x.format);  // (N, O, Ho, Wo), laid out like x
  bool tensorOps = tensorOpsFor(dtype);

  if (needDbias && dtype == DType::Float32 && !dyEmpty) {
    // float32: the project's own deterministic reduction (summing in double, either layout);
    // cuDNN's backward-bias is kept for float16 / bfloat16.
    grads.dbias = cuda::reduceSum(dy, {0, 2, 3}, false);
  } else if (needDbias) {
    grads.dbias = dyEmpty ? cuda::zeros({yShape[1]}, dtype) : cuda::empty({yShape[1]}, dtype);  // (O)
    if (!dyEmpty) {
      TensorDesc dyDesc(dy);
      TensorDesc dbDesc({1, yShape[1], 1, 1}, dtype, MemoryFormat::Contiguous);
      const dnn::cudnnStatus_t status = siteStatus(FallbackSite::BackwardBias, [&] {
        return dnn::cudnnConvolutionBackwardBias(cudnnHandle(), &kOne, dyDesc.get(), dataOf(dy), &kZero,
                                                 dbDesc.get(), mutableDataOf(grads.dbias));
      });
      if (fallsBack(FallbackSite::BackwardBias, status)) grads.dbias = biasGradByKernels(dy);
      else checkCudnn(status, "cudnnConvolutionBackwardBias", __FILE__, __LINE__);
    }
  }

  if (needDx) {
    const bool trivial = dyEmpty || weightIn.numel() == 0;  // dx = 0
    Tensor dx = trivial ? cuda::zeros(x.shape, dtype, x.format) : cuda::empty(x.shape, dtype, x.format);
    if (!trivial && dx.numel() > 0) {
      Tensor w = inFormat(weightIn, x.format);
      FilterDesc wDesc(w);
      TensorDesc dyDesc(dy), dxDesc(dx);
      ConvDesc convDesc(p, DType::Float32, tensorOps);
      ConvArgs args;
      args.key = makeConvKey(ConvPass::BackwardData, x.shape, w.shape, p, dtype, x.format, tensorOps,
                             deterministic());
      args.x = &dxDesc, args.xData = dataOf(dx);
      args.w = &wDesc, args.wData = dataOf(w);
      args.y = &dyDesc, args.yData = dataOf(dy);
      args.conv = &convDesc;
      args.out = mutableDataOf(dx);
      ConvPlan plan = planConvolution(args);
      CR_CUDNN_CHECK(dnn::cudnnConvolutionBackwardData(cudnnHandle(), &kOne, wDesc.get(), dataOf(w), dyDesc.get(),
                                                       dataOf(dy), convDesc.get(),
                                                       static_cast<dnn::cudnnConvolutionBwdDataAlgo_t>(plan.algo),
                                                       plan.workspace, plan.workspaceBytes, &kZero, dxDesc.get(),
                                                       mutableDataOf(dx)));
    }
    grads.dx = dx;
  }

  if (needDweight) {
    // Computed in x's layout (the filter descriptor must match x's), returned in the weight's.
    const bool trivial = dyEmpty || x.numel() == 0;  // dweight = 0
    Tensor dw = trivial ? cuda::zeros(weightIn.shape, dtype, x.format)
                        : cuda::empty(weightIn.shape, dtype, x.format);  // (O, C / groups, kH, kW)
    if (!trivial && dw.numel() > 0) {
      FilterDesc dwDesc(dw);
      TensorDesc xDesc(x), dyDesc(dy);
      ConvDesc convDesc(p, DType::Float32, tensorOps);
      ConvArgs args;
      args.key = makeConvKey(ConvPass::BackwardFilter, x.shape, dw.shape, p, dtype, x.format, tensorOps,
                             deterministic());
      args.x = &xDesc, args.xData = dataOf(x);
      args.w = &dwDesc, args.wData = dataOf(dw);
      args.y = &dyDesc, args.yData = dataOf(dy);
      args.conv = &convDesc;
      args.out = mutableDataOf(dw);
      ConvPlan plan = planConvolution(args);
      CR_CUDNN_CHECK(dnn::cudnnConvolutionBackwardFilter(
          cudnnHandle(), &kOne, xDesc.get(), dataOf(x), dyDesc.get(), dataOf(dy), convDesc.get(),
          static_cast<dnn::cudnnConvolutionBwdFilterAlgo_t>(plan.algo), plan.workspace, plan.workspaceBytes,
          &kZero, dwDesc.get(), mutableDataOf(dw)));
    }
    grads.dweight = inFormat(dw, weightIn.format);
  }
  return grads;
}

// y = act(1 * conv(x) + alpha2 * z + bias) in one cudnnConvolutionBiasActivationForward, with alpha2 = 1,
// or 0 without z: y's own buffer, zeroed, then stands in for z, as in TensorFlow's fused convolution
// when its side input is scaled by 0.
// The call's constraints: the activation is RELU or IDENTITY, and IDENTITY runs only with
// IMPLICIT_PRECOMP_GEMM (RELU with any forward algorithm: it uses the one conv2d benchmarked for the
// same configuration, from the shared cache); bias is (1, O, 1, 1) and z has y's shape and layout, all
// in x's dtype, accumulating in float32 (cuDNN's PSEUDO_HALF configuration for float16). The RELU
// descriptor does not propagate NaN (the mode TensorFlow and PyTorch use with this call; coef is
// ignored by RELU), so a NaN before the ReLU may come out as 0 here where the CPU op keeps it.
// Falls back to convBiasActComposed for bfloat16 (not among the call's documented data-type
// configurations), for empty tensors (cuDNN's descriptors need positive sizes) and whenever cuDNN
// declines the configuration (NOT_SUPPORTED or BAD_PARAM: fallback.h).
Tensor convBiasAct(const Tensor& x, const Tensor& weightIn, const Tensor* bias, const Tensor* z, bool relu,
                          const Conv2dParams& p) {
  Shape yShape = checkForward(kFusedOp, x, weightIn, bias, p);  // (N, O, Ho, Wo)
  if (z) {
    expectGpuFloat(kFusedOp, "z", *z);
    expectDtypeOfX(kFusedOp, "z", *z, x);
    expectShape(kFusedOp, "z", *z, yShape);
  }
  if (x.dtype == DType::BFloat16 || x.numel() == 0 || weightIn.numel() == 0 || numelOf(yShape) == 0)
    return convBiasActComposed(x, weightIn, bias, z, relu, p);
  expectIndexable(kFusedOp, "x", x);
  Tensor y = cuda::empty(yShape, x.dtype, x.format);
  expectIndexable(kFusedOp, "y", y);
  Tensor w = inFormat(weightIn, x.format);                      // (O, C / groups, kH, kW), laid out like x
  // Without z, y's own buffer stands in for it, zeroed: alpha2 = 0 should make cuDNN ignore it, but
  // a recycled block may hold NaN, and 0 * NaN is NaN if it reads it anyway.
  if (!z) CR_CUDA_CHECK(cudaMemsetAsync(mutableDataOf(y), 0, y.nbytes(), stream()));
  Tensor residual = z ? inFormat(*z, x.format) : y;             // (N, O, Ho, Wo), laid out like y
  Tensor b = bias ? *bias : cuda::zeros({yShape[1]}, x.dtype);  // (O)
  TensorDesc xDesc(x), yDesc(y), biasDesc({1, yShape[1], 1, 1}, x.dtype, MemoryFormat::Contiguous);
  FilterDesc wDesc(w);
  const bool tensorOps = tensorOpsFor(x.dtype);
  ConvDesc convDesc(p, DType::Float32, tensorOps);
  ActivationDesc activation(relu ? dnn::CUDNN_ACTIVATION_RELU : dnn::CUDNN_ACTIVATION_IDENTITY,
                            dnn::CUDNN_NOT_PROPAGATE_NAN, 0.0);
  ConvPlan plan;
  if (relu) {
    plan = planConvolution(forwardArgs(x, w, y, xDesc, wDesc, yDesc, convDesc, p, tensorOps));
  } else if (!precompGemmPlan(xDesc, wDesc, convDesc, yDesc, x.dtype, tensorOps, &plan)) {
    return convBiasActComposed(x, weightIn, bias, z, relu, p);
  }
  const float alpha2 = z ? 1.0f : 0.0f;
  const dnn::cudnnStatus_t status = siteStatus(FallbackSite::BiasActivation, [&] {
    return dnn::cudnnConvolutionBiasActivationForward(
        cudnnHandle(), &kOne, xDesc.get(), dataOf(x), wDesc.get(), dataOf(w), convDesc.get(),
        static_cast<dnn::cudnnConvolutionFwdAlgo_t>(plan.algo), plan.workspace, plan.workspaceBytes, &alpha2,
        yDesc.get(), dataOf(residual), biasDesc.get(), dataOf(b), activation.get(), yDesc.get(), mutableDataOf(y));
  });
  if (fallsBack(FallbackSite::BiasActivation, status)) return convBiasActComposed(x, weightIn, bias, z, relu, p);
  checkCudnn(status, "cudnnConvolutionBiasActivationForward", __FILE__, __LINE__);
  return y;
}

}  // namespace cr::cuda
