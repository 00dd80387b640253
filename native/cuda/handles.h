// The cuDNN and cuBLAS handles of the backend: created on first use (loading the library, or
// throwing the exact reason it cannot be loaded), bound to the backend's one stream.
#pragma once
#include "cublas_api.h"
#include "cudnn_api.h"

namespace cr::cuda {

dnn::cudnnHandle_t cudnnHandle();
blas::cublasHandle_t cublasHandle();

}  // namespace cr::cuda
