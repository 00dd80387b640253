#include "device_info.h"

namespace cr {

CudaInfo cudaInfo() {
  CudaInfo info;
  info.reason = "this build of the addon has no CUDA part (nvcc was not found at build time, or CUDA was switched off)";
  return info;
}

}  // namespace cr
