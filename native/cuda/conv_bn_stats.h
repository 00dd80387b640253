// The cache of cuDNN execution plans behind the GPU convBnStats (conv_bn_stats.cc; the op itself is
// declared in ops.h): what it holds, for tests and diagnostics.
#pragma once
#include <cstdint>
#include <string>

namespace cr::cuda {

struct FusedConvPlanStats {
  int64_t plans = 0;        // configurations with a finalized execution plan
  int64_t unsupported = 0;  // configurations that no cuDNN engine runs (remembered, not retried)
  int64_t hits = 0;         // calls that ran a cached plan
  std::string lastReason;   // why the latest unsupported configuration was (empty when none was)
  // The dtype of the prologue's virtual intermediates in the plans built so far: "float32",
  // "float16", "bfloat16", or "float32 and bfloat16" ... when plans differ (empty before any plan).
  std::string intermediates;
};
FusedConvPlanStats fusedConvPlanStats();

}  // namespace cr::cuda
