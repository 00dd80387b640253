// NCCL in a build without the CUDA part: there are no CUDA tensors to reduce.
#include "../core/error.h"
#include "nccl.h"

namespace cr::dist {

NcclReport ncclReport() {
  NcclReport report;
  report.library.reason = "the addon was built without its CUDA part (no nvcc at build time), so NCCL is not used";
  return report;
}

std::function<void()> ncclAllReduce(const std::vector<Tensor>&, std::vector<Tensor>&, ReduceOp, const GroupInfo&) {
  CR_CHECK(false, "allReduce: ", ncclReport().library.reason);
}

void ncclBroadcast(std::vector<Tensor>&, int, const GroupInfo&) { CR_CHECK(false, "broadcast: ", ncclReport().library.reason); }

}  // namespace cr::dist
