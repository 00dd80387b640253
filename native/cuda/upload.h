// Host-to-device copies that never make the host wait for the GPU (see upload.cu).
#pragma once
#include "../core/tensor.h"

namespace cr::cuda {

// dst (on the GPU) = src (on the CPU), same bytes. Returns once src has been read; the copy itself
// runs on a side stream, overlapping the work already queued, and work queued afterwards on the
// backend's stream sees dst filled.
void uploadFromHost(Tensor& dst, const Tensor& src);
// Frees the staging buffers (waiting for the copies that use them).
void releaseUploadBuffers();

}  // namespace cr::cuda
