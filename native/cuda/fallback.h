// When a cuDNN call declines a configuration, some ops fall back to the project's own kernels
// instead of throwing. This file names those call sites, decides which statuses make each fall
// back, and holds the test-only hook that forces a site's status (so that a GPU test can run each
// fallback on hardware whose cuDNN would not decline).
//   addTensor       cudnnAddTensor in conv2d's bias (bfloat16 may be declined): + bias by kernels
//   backwardBias    cudnnConvolutionBackwardBias for 16-bit dy: the sum by the project's reduction
//   biasActivation  cudnnConvolutionBiasActivationForward (convBiasAct): conv2d then kernels; it
//                   also falls back on BAD_PARAM (2xxx), which cuDNN returns for some
//                   configurations the call does not take (a filter layout, a dtype mix)
#pragma once
#include <string>

#include "cudnn_api.h"

namespace cr::cuda {

enum class FallbackSite { AddTensor, BackwardBias, BiasActivation };

// True when `status` from the site's call means "compose the op from other kernels".
bool fallsBack(FallbackSite site, dnn::cudnnStatus_t status);

// The status the site's call returned, or the forced one when a test set it (the real call is
// then not made). Used as: status = siteStatus(site, [&] { return dnn::cudnnAddTensor(...); }).
template <typename Call>
dnn::cudnnStatus_t siteStatus(FallbackSite site, Call&& call);

// Test-only: every later call at `site` ("addTensor", "backwardBias", "biasActivation") returns
// `status` without calling cuDNN; status 0 (success) clears the forcing. Throws TypeError for an
// unknown site.
void forceStatus(const std::string& site, int status);
// The forced status of the site, or -1 when none is forced.
int forcedStatus(FallbackSite site);

template <typename Call>
dnn::cudnnStatus_t siteStatus(FallbackSite site, Call&& call) {
  const int forced = forcedStatus(site);
  return forced >= 0 ? static_cast<dnn::cudnnStatus_t>(forced) : call();
}

}  // namespace cr::cuda
