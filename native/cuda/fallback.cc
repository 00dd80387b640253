// Which cuDNN statuses make an op fall back, and the test-only forcing of them (see fallback.h).
#include "fallback.h"

#include <atomic>

#include "../core/error.h"

namespace cr::cuda {
namespace {

constexpr int kSites = 3;
std::atomic<int> gForced[kSites] = {-1, -1, -1};

const char* siteName(FallbackSite site) {
  switch (site) {
    case FallbackSite::AddTensor: return "addTensor";
    case FallbackSite::BackwardBias: return "backwardBias";
    case FallbackSite::BiasActivation: return "biasActivation";
  }
  return "?";
}

// CUDNN_STATUS_NOT_SUPPORTED and its 9.x sub-codes (3000-3999).
bool notSupported(dnn::cudnnStatus_t status) {
  return status >= dnn::CUDNN_STATUS_NOT_SUPPORTED && status < dnn::CUDNN_STATUS_INTERNAL_ERROR;
}
// CUDNN_STATUS_BAD_PARAM and its sub-codes (2000-2999).
bool badParam(dnn::cudnnStatus_t status) {
  return status >= dnn::CUDNN_STATUS_BAD_PARAM && status < dnn::CUDNN_STATUS_NOT_SUPPORTED;
}

}  // namespace

bool fallsBack(FallbackSite site, dnn::cudnnStatus_t status) {
  if (site == FallbackSite::BiasActivation) return notSupported(status) || badParam(status);
  return notSupported(status);
}

void forceStatus(const std::string& site, int status) {
  CR_CHECK_RANGE(status >= 0, "forceStatus: status must be a cuDNN status code (0 clears), got ", status);
  for (int i = 0; i < kSites; ++i) {
    if (site == siteName(static_cast<FallbackSite>(i))) {
      gForced[i].store(status == 0 ? -1 : status);
      return;
    }
  }
  CR_CHECK_TYPE(false, "forceStatus: unknown site '", site, "' (addTensor, backwardBias or biasActivation)");
}

int forcedStatus(FallbackSite site) { return gForced[static_cast<int>(site)].load(); }

}  // namespace cr::cuda
