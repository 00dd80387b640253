// NCCL for the collectives of CUDA tensors (declared in nccl_api.h, loaded with dlopen in
// nccl.cc; nccl_none.cc in builds without the CUDA part). The communicator is created on the
// first collective: rank 0 makes NCCL's unique id and broadcasts it over MPI, every rank joins
// with its own rank on its current CUDA device. The all-reduce runs on a stream of its own,
// after the work queued so far on the backend's stream (the backward kernels that made the
// gradients), so the backward kernels queued next overlap it; the function it returns makes the
// backend's stream wait for it (without blocking the host). Broadcasts run on the backend's stream.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "../core/library_search.h"
#include "../core/tensor.h"
#include "group.h"

namespace cr::dist {

struct NcclReport {
  bool compiled = false;  // the addon has its CUDA part
  LibraryInfo library;    // loaded when libnccl.so.2 was found and usable
};
// Loads NCCL on the first call; never throws.
NcclReport ncclReport();

std::function<void()> ncclAllReduce(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs, ReduceOp op,
                                    const GroupInfo& group);
void ncclBroadcast(std::vector<Tensor>& tensors, int root, const GroupInfo& group);

}  // namespace cr::dist
