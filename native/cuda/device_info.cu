#include <cuda_runtime_api.h>

#include "device_info.h"

namespace cr {

CudaInfo cudaInfo() {
  CudaInfo info;
  info.compiled = true;
  cudaRuntimeGetVersion(&info.runtimeVersion);
  if (cudaDriverGetVersion(&info.driverVersion) != cudaSuccess || info.driverVersion == 0) {
    info.driverVersion = 0;
    info.reason = "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
    return info;
  }
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" +
                  cudaGetErrorString(status) + ")";
    cudaGetLastError();
    return info;
  }
  if (count == 0) {
    info.reason = "the NVIDIA driver reports no CUDA device";
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    status = cudaGetDeviceProperties(&prop, i);
    if (status != cudaSuccess) {
      info.reason = std::string("cudaGetDeviceProperties(") + std::to_string(i) + ") failed: " +
                    cudaGetErrorString(status);
      info.devices.clear();
      return info;
    }
    info.devices.push_back({prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  info.available = true;
  return info;
}

}  // namespace cr
