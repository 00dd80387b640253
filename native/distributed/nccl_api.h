// The part of NCCL 2 this project calls, declared by the project (no nccl.h at build time) from
// NCCL's published nccl.h, and resolved with dlsym from libnccl.so.2 (nccl.cc).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

namespace cr::nccl {

struct ncclComm;
using ncclComm_t = ncclComm*;
struct ncclUniqueId {
  char internal[128];
};

enum ncclResult_t {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
};
enum ncclDataType_t { ncclUint8 = 1, ncclFloat16 = 6, ncclFloat32 = 7, ncclBfloat16 = 9 };
enum ncclRedOp_t { ncclSum = 0, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };

// X(name, parameters)
#define CR_NCCL_FUNCTIONS(X)                                                                           \
  X(ncclGetVersion, (int* version))                                                                    \
  X(ncclGetUniqueId, (ncclUniqueId * id))                                                              \
  X(ncclCommInitRank, (ncclComm_t * comm, int nranks, ncclUniqueId id, int rank))                      \
  X(ncclCommGetAsyncError, (ncclComm_t comm, ncclResult_t * error))                                    \
  X(ncclAllReduce, (const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,  \
                    ncclComm_t comm, cudaStream_t stream))                                             \
  X(ncclBroadcast, (const void* send, void* recv, size_t count, ncclDataType_t type, int root,        \
                    ncclComm_t comm, cudaStream_t stream))                                             \
  X(ncclGroupStart, ())                                                                                \
  X(ncclGroupEnd, ())

struct Api {
#define CR_NCCL_POINTER(name, params) ncclResult_t(*name) params = nullptr;
  CR_NCCL_FUNCTIONS(CR_NCCL_POINTER)
#undef CR_NCCL_POINTER
  const char* (*ncclGetErrorString)(ncclResult_t result) = nullptr;
};

}  // namespace cr::nccl
