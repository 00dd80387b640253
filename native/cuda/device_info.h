// What the CUDA runtime reports about this machine: whether a usable GPU is present and, if
// not, why. Built from device_info.cu where nvcc was found at build time, else from
// device_info_none.cc, which reports that the build has no CUDA part.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace cr {

struct CudaDevice {
  std::string name;
  int major = 0, minor = 0;       // compute capability
  size_t totalMemory = 0;         // bytes
};

struct CudaInfo {
  bool compiled = false;          // the addon was built with its CUDA part
  bool available = false;         // a driver and at least one device answer
  std::string reason;             // why not available (empty when available)
  int runtimeVersion = 0;         // e.g. 13000
  int driverVersion = 0;          // 0 when no driver
  std::vector<CudaDevice> devices;
};

CudaInfo cudaInfo();

}  // namespace cr
