// The batch-norm ops' contract (batchNorm2d, bnRelu, bnAddRelu and their backwards), the same on
// every device: cpu/batchnorm.cc and cuda/batchnorm.cc check with it and return these structs.
#pragma once
#include "../core/tensor.h"

namespace cr {

struct BatchNormResult { Tensor y, saveMean, saveInvStd; };  // saveMean, saveInvStd: (C) — the mean and 1/sqrt(var + eps) used
struct BatchNormGrads { Tensor dx, dweight, dbias; };  // empty Tensors where not requested / no weight
struct BnAddReluGrads { Tensor dx, dresidual, dweight, dbias; };

// x float32 on `device`, (N, C) or (N, C, H, W).
void checkBatchNormInput(const char* op, Device device, const char* name, const Tensor& x);
// t, when given, float32 (channels) on `device`.
void checkPerChannel(const char* op, Device device, const char* name, const Tensor* t, int64_t channels);
// The argument checks of the batch-norm ops, shared by the CPU ops and their CUDA twins; `device`
// is where the tensors must be. Forward: x (N, C[, H, W]), the optional per-channel tensors,
// eps, momentum, the running statistics' pairing and eval-mode needs. Backward: also dy and the
// saved statistics.
void checkBatchNormForward(const char* op, Device device, const Tensor& x, const Tensor* weight, const Tensor* bias,
                           const Tensor* runningMean, const Tensor* runningVar, bool training, double momentum,
                           double eps);
void checkBatchNormBackward(const char* op, Device device, const Tensor& dy, const Tensor& x, const Tensor* weight,
                            const Tensor& saveMean, const Tensor& saveInvStd);

}  // namespace cr
